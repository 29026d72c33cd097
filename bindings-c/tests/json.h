/*
 * A tiny JSON reader and writer for the C tests (not part of the library): parses the
 * conformance cases and the JSON text the library returns, compares values, and writes
 * sub-trees back as JSON text to pass to the C API. Header-only; strict RFC 8259 input.
 */
#ifndef VMS_TEST_JSON_H
#define VMS_TEST_JSON_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json {
    json_type type;
    int boolean;
    double number;
    char *string;        /* JSON_STRING: decoded UTF-8, NUL-terminated */
    size_t len;          /* JSON_STRING: bytes; JSON_ARRAY / JSON_OBJECT: items */
    struct json *items;  /* JSON_ARRAY / JSON_OBJECT values */
    char **keys;         /* JSON_OBJECT keys */
} json;

typedef struct {
    const char *p;
    int depth;
} json_parser;

static inline void json_release(json *v) {
    size_t i;
    if (!v) return;
    free(v->string);
    for (i = 0; i < v->len && (v->type == JSON_ARRAY || v->type == JSON_OBJECT); i++) {
        json_release(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
}

/* Frees a value returned by json_parse. NULL is fine. */
static inline void json_free(json *v) {
    json_release(v);
    free(v);
}

static inline void json_ws(json_parser *ps) {
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') ps->p++;
}

static inline int json_hex4(const char *s, unsigned *out) {
    unsigned v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

static inline size_t json_utf8(unsigned cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses a string literal at ps->p (on the opening quote). */
static inline char *json_string_lit(json_parser *ps, size_t *len_out) {
    const char *s = ps->p + 1;
    size_t cap = 16, n = 0;
    char *buf = (char *)malloc(cap);
    if (!buf) return NULL;
    for (;;) {
        unsigned char c = (unsigned char)*s;
        if (n + 8 > cap) {
            char *grown;
            cap *= 2;
            grown = (char *)realloc(buf, cap);
            if (!grown) { free(buf); return NULL; }
            buf = grown;
        }
        if (c == '"') { s++; break; }
        if (c < 0x20) { free(buf); return NULL; }
        if (c != '\\') { buf[n++] = (char)c; s++; continue; }
        s++;
        switch (*s) {
        case '"': buf[n++] = '"'; s++; break;
        case '\\': buf[n++] = '\\'; s++; break;
        case '/': buf[n++] = '/'; s++; break;
        case 'b': buf[n++] = '\b'; s++; break;
        case 'f': buf[n++] = '\f'; s++; break;
        case 'n': buf[n++] = '\n'; s++; break;
        case 'r': buf[n++] = '\r'; s++; break;
        case 't': buf[n++] = '\t'; s++; break;
        case 'u': {
            unsigned cp, lo;
            if (!json_hex4(s + 1, &cp)) { free(buf); return NULL; }
            s += 5;
            if (cp >= 0xD800 && cp <= 0xDBFF && s[0] == '\\' && s[1] == 'u' && json_hex4(s + 2, &lo)
                && lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                s += 6;
            }
            n += json_utf8(cp, buf + n);
            break;
        }
        default: free(buf); return NULL;
        }
    }
    buf[n] = '\0';
    ps->p = s;
    *len_out = n;
    return buf;
}

static inline int json_value(json_parser *ps, json *out);

static inline int json_push(json *v, size_t *cap) {
    if (v->len == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        json *items = (json *)realloc(v->items, ncap * sizeof(json));
        if (!items) return 0;
        v->items = items;
        if (v->type == JSON_OBJECT) {
            char **keys = (char **)realloc(v->keys, ncap * sizeof(char *));
            if (!keys) return 0;
            v->keys = keys;
        }
        *cap = ncap;
    }
    return 1;
}

static inline int json_value(json_parser *ps, json *out) {
    memset(out, 0, sizeof *out);
    json_ws(ps);
    if (++ps->depth > 200) return 0;
    switch (*ps->p) {
    case 'n': if (strncmp(ps->p, "null", 4)) return 0; ps->p += 4; out->type = JSON_NULL; break;
    case 't': if (strncmp(ps->p, "true", 4)) return 0; ps->p += 4; out->type = JSON_BOOL; out->boolean = 1; break;
    case 'f': if (strncmp(ps->p, "false", 5)) return 0; ps->p += 5; out->type = JSON_BOOL; break;
    case '"':
        out->type = JSON_STRING;
        if (!(out->string = json_string_lit(ps, &out->len))) return 0;
        break;
    case '[': case '{': {
        int object = *ps->p == '{';
        char close = object ? '}' : ']';
        size_t cap = 0;
        out->type = object ? JSON_OBJECT : JSON_ARRAY;
        ps->p++;
        json_ws(ps);
        if (*ps->p == close) { ps->p++; break; }
        for (;;) {
            char *key = NULL;
            size_t klen;
            json_ws(ps);
            if (object) {
                if (*ps->p != '"' || !(key = json_string_lit(ps, &klen))) return 0;
                json_ws(ps);
                if (*ps->p != ':') { free(key); return 0; }
                ps->p++;
            }
            if (!json_push(out, &cap)) { free(key); return 0; }
            if (object) out->keys[out->len] = key;
            if (!json_value(ps, &out->items[out->len])) { out->len++; return 0; }
            out->len++;
            json_ws(ps);
            if (*ps->p == ',') { ps->p++; continue; }
            if (*ps->p == close) { ps->p++; break; }
            return 0;
        }
        break;
    }
    default: {
        char *end;
        if (!(*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))) return 0;
        out->type = JSON_NUMBER;
        out->number = strtod(ps->p, &end);
        if (end == ps->p) return 0;
        ps->p = end;
    }
    }
    ps->depth--;
    return 1;
}

/* Parses JSON text; NULL when it is malformed. Free with json_free. */
static inline json *json_parse(const char *text) {
    json_parser ps;
    json *v = (json *)calloc(1, sizeof(json));
    if (!v || !text) { free(v); return NULL; }
    ps.p = text;
    ps.depth = 0;
    if (!json_value(&ps, v)) { json_free(v); return NULL; }
    json_ws(&ps);
    if (*ps.p) { json_free(v); return NULL; }
    return v;
}

/* The member `key` of an object, NULL when absent or not an object. */
static inline const json *json_get(const json *v, const char *key) {
    size_t i;
    if (!v || v->type != JSON_OBJECT) return NULL;
    for (i = 0; i < v->len; i++)
        if (strcmp(v->keys[i], key) == 0) return &v->items[i];
    return NULL;
}

/* The string member `key`, NULL when absent or not a string. */
static inline const char *json_str(const json *v, const char *key) {
    const json *m = json_get(v, key);
    return m && m->type == JSON_STRING ? m->string : NULL;
}

/* Deep equality (object member order ignored). */
static inline int json_equal(const json *a, const json *b) {
    size_t i;
    if (!a || !b || a->type != b->type) return 0;
    switch (a->type) {
    case JSON_NULL: return 1;
    case JSON_BOOL: return a->boolean == b->boolean;
    case JSON_NUMBER: return a->number == b->number;
    case JSON_STRING: return a->len == b->len && memcmp(a->string, b->string, a->len) == 0;
    case JSON_ARRAY:
        if (a->len != b->len) return 0;
        for (i = 0; i < a->len; i++)
            if (!json_equal(&a->items[i], &b->items[i])) return 0;
        return 1;
    case JSON_OBJECT:
        if (a->len != b->len) return 0;
        for (i = 0; i < a->len; i++)
            if (!json_equal(&a->items[i], json_get(b, a->keys[i]))) return 0;
        return 1;
    }
    return 0;
}

typedef struct {
    char *buf;
    size_t len, cap;
} json_buf;

static inline void json_put(json_buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *grown = (char *)realloc(b->buf, cap);
        if (!grown) abort();
        b->buf = grown;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static inline void json_put_string(json_buf *b, const char *s, size_t n) {
    size_t i;
    json_put(b, "\"", 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') { esc[0] = '\\'; esc[1] = (char)c; json_put(b, esc, 2); }
        else if (c < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", c); json_put(b, esc, 6); }
        else json_put(b, (const char *)&s[i], 1);
    }
    json_put(b, "\"", 1);
}

static inline void json_write(json_buf *b, const json *v) {
    size_t i;
    char num[64];
    switch (v->type) {
    case JSON_NULL: json_put(b, "null", 4); break;
    case JSON_BOOL: v->boolean ? json_put(b, "true", 4) : json_put(b, "false", 5); break;
    case JSON_NUMBER: snprintf(num, sizeof num, "%.17g", v->number); json_put(b, num, strlen(num)); break;
    case JSON_STRING: json_put_string(b, v->string, v->len); break;
    case JSON_ARRAY: case JSON_OBJECT:
        json_put(b, v->type == JSON_ARRAY ? "[" : "{", 1);
        for (i = 0; i < v->len; i++) {
            if (i) json_put(b, ",", 1);
            if (v->type == JSON_OBJECT) {
                json_put_string(b, v->keys[i], strlen(v->keys[i]));
                json_put(b, ":", 1);
            }
            json_write(b, &v->items[i]);
        }
        json_put(b, v->type == JSON_ARRAY ? "]" : "}", 1);
        break;
    }
}

/* JSON text of a value; the caller frees it with free(). */
static inline char *json_dump(const json *v) {
    json_buf b = {NULL, 0, 0};
    json_put(&b, "", 0);
    json_write(&b, v);
    return b.buf;
}

/* Reads a whole file; the caller frees it with free(). NULL on error. */
static inline char *json_read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    long size;
    char *text;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) { fclose(f); return NULL; }
    text = (char *)malloc((size_t)size + 1);
    if (text && fread(text, 1, (size_t)size, f) != (size_t)size) { free(text); text = NULL; }
    if (text) text[size] = '\0';
    fclose(f);
    return text;
}

#endif
