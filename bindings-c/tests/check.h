/*
 * Helpers shared by the C tests: assertions on vms_error_t results, temporary worktrees,
 * and JSON results parsed with json.h. Every helper frees what it is given, so a test
 * that passes leaks nothing (the suite runs under valgrind).
 */
#ifndef VMS_TEST_CHECK_H
#define VMS_TEST_CHECK_H

#define _XOPEN_SOURCE 700

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmsystem.h"
#include "json.h"

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

#define CHECK_STR(actual, expected)                                                       \
    do {                                                                                  \
        const char *a_ = (actual), *e_ = (expected);                                      \
        if (!a_ || strcmp(a_, e_) != 0) {                                                 \
            fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, \
                    #actual, a_ ? a_ : "(null)", e_);                                     \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

/* Fails the test when `err` is an error. */
#define OK(call) check_ok((call), #call, __FILE__, __LINE__)

/* Fails the test unless `err` is an error with `code`; frees it. */
#define FAILS(call, code) check_fails((call), (code), #call, __FILE__, __LINE__)

static inline void check_ok(vms_error_t *err, const char *what, const char *file, int line) {
    if (err) {
        fprintf(stderr, "%s:%d: %s failed: %s: %s\n", file, line, what,
                vms_status_name(vms_error_code(err)), vms_error_message(err));
        vms_error_free(err);
        exit(1);
    }
}

static inline void check_fails(vms_error_t *err, vms_status code, const char *what, const char *file,
                        int line) {
    if (!err) {
        fprintf(stderr, "%s:%d: %s succeeded, expected %s\n", file, line, what,
                vms_status_name(code));
        exit(1);
    }
    if (vms_error_code(err) != code) {
        fprintf(stderr, "%s:%d: %s failed with %s (%s), expected %s\n", file, line, what,
                vms_status_name(vms_error_code(err)), vms_error_message(err),
                vms_status_name(code));
        vms_error_free(err);
        exit(1);
    }
    CHECK(strlen(vms_error_message(err)) > 0);
    vms_error_free(err);
}

/* Parses JSON text returned by the library and frees the text. */
static inline json *take_json(char *text) {
    json *v;
    CHECK(text != NULL);
    v = json_parse(text);
    if (!v) {
        fprintf(stderr, "library returned malformed JSON: %s\n", text);
        exit(1);
    }
    vms_string_free(text);
    return v;
}

/* A string member that must be there. */
static inline const char *need_str(const json *v, const char *key) {
    const char *s = json_str(v, key);
    if (!s) {
        fprintf(stderr, "JSON has no string %s\n", key);
        exit(1);
    }
    return s;
}

/* A copy of a string member of a JSON object (the test frees it). */
static inline char *dup_str(const json *v, const char *key) {
    const char *s = json_str(v, key);
    char *copy;
    if (!s) {
        fprintf(stderr, "JSON has no string %s\n", key);
        exit(1);
    }
    copy = (char *)malloc(strlen(s) + 1);
    CHECK(copy != NULL);
    strcpy(copy, s);
    return copy;
}

/* A new empty directory, canonical path (the caller frees it and calls remove_tree). */
static inline char *make_temp_dir(void) {
    const char *base = getenv("TMPDIR");
    char pattern[4096];
    char *made, *real;
    snprintf(pattern, sizeof pattern, "%s/vms-c-test-XXXXXX", base && *base ? base : "/tmp");
    made = mkdtemp(pattern);
    CHECK(made != NULL);
    real = realpath(made, NULL);
    CHECK(real != NULL);
    return real;
}

/* Writes `content` at dir/rel, creating folders. */
static inline void write_file(const char *dir, const char *rel, const char *content) {
    char path[4096];
    char *slash;
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    for (slash = strchr(path + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        CHECK(mkdir(path, 0755) == 0 || errno == EEXIST);
        *slash = '/';
    }
    f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(content, 1, strlen(content), f) == strlen(content));
    CHECK(fclose(f) == 0);
}

static inline int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Deletes a directory tree (symlinks are removed, not followed) and frees `dir`. */
static inline void remove_tree(char *dir) {
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static inline void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* Opens an in-memory database. */
static inline vms_t *open_memory(void) {
    vms_t *vms = NULL;
    OK(vms_open(NULL, &vms));
    CHECK(vms != NULL);
    return vms;
}

/* Creates a template and returns its id (the caller frees it). */
static inline char *new_template(vms_t *vms, const char *name) {
    char *out = NULL;
    json *t;
    char *id;
    OK(vms_template_create(vms, name, NULL, &out));
    t = take_json(out);
    id = dup_str(t, "id");
    json_free(t);
    return id;
}

/* Creates a session on `worktree` and returns its id (the caller frees it). */
static inline char *new_session(vms_t *vms, const char *template_id, const char *worktree) {
    char *out = NULL;
    json *s;
    char *id;
    OK(vms_session_create(vms, template_id, "ws-c", "abc123", worktree, NULL, NULL, &out));
    s = take_json(out);
    CHECK_STR(json_str(s, "status"), "ready");
    id = dup_str(s, "id");
    json_free(s);
    return id;
}

/* Runs a REPL snippet that must succeed; returns the Execution record. */
static inline json *repl_ok(vms_t *vms, const char *session_id, const char *input) {
    char *out = NULL;
    OK(vms_repl(vms, session_id, input, NULL, NULL, &out));
    return take_json(out);
}

/* The `json` of an execution's result (its value), NULL when absent. */
static inline const json *exec_value(const json *exec) {
    return json_get(json_get(exec, "result"), "json");
}

#endif
