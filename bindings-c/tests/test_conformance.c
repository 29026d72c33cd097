/* Runs every JSON case of tests/conformance/ (format: tests/conformance/README.md) through the
 * C API. Usage: test_conformance CASES_DIR */

#include "check.h"

static const char *case_name;
static char what[256];

#define EXPECT(cond, ...)                                                        \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "conformance %s: %s: ", case_name, what);            \
            fprintf(stderr, __VA_ARGS__);                                        \
            fprintf(stderr, "\n");                                               \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

static void write_files(const char *root, const json *files) {
    size_t i;
    if (!files) return;
    for (i = 0; i < files->len; i++) write_file(root, files->keys[i], files->items[i].string);
}

static void make_symlinks(const char *worktree, const char *outside, const json *links) {
    size_t i;
    if (!links) return;
    for (i = 0; i < links->len; i++) {
        const char *target = need_str(&links->items[i], "target");
        char resolved[4096], link[4096];
        if (strncmp(target, "<outside>", 9) == 0)
            snprintf(resolved, sizeof resolved, "%s%s", outside, target + 9);
        else
            snprintf(resolved, sizeof resolved, "%s", target);
        snprintf(link, sizeof link, "%s/%s", worktree, need_str(&links->items[i], "link"));
        CHECK(symlink(resolved, link) == 0);
    }
}

/* An API call's JSON result, or exits with the error. */
static json *must(vms_error_t *err, char **out, const char *call) {
    EXPECT(err == NULL, "%s failed: %s: %s", call, vms_status_name(vms_error_code(err)),
           vms_error_message(err));
    return take_json(*out);
}

static void check_events(vms_t *vms, const char *execution_id, const json *expected) {
    char *out = NULL;
    json *events = must(vms_events(vms, execution_id, 0, &out), &out, "vms_events");
    size_t i, k;
    EXPECT(events->len == expected->len, "%zu events, expected %zu", events->len, expected->len);
    for (i = 0; i < expected->len; i++) {
        const json *event = &events->items[i];
        const json *want = &expected->items[i];
        const json *payload = json_get(event, "payload");
        const json *want_payload = json_get(want, "payload");
        EXPECT(json_get(event, "seq")->number == (double)(i + 1), "event %zu: seq", i + 1);
        EXPECT(strcmp(need_str(event, "type"), need_str(want, "type")) == 0,
               "event %zu: type %s, expected %s", i + 1, need_str(event, "type"), need_str(want, "type"));
        for (k = 0; want_payload && k < want_payload->len; k++) {
            const char *key = want_payload->keys[k];
            const json *value = &want_payload->items[k];
            const json *actual = json_get(payload, key);
            if (value->type == JSON_STRING && strcmp(value->string, "<absent>") == 0) {
                EXPECT(actual == NULL, "event %zu: payload has %s", i + 1, key);
            } else {
                char *a = actual ? json_dump(actual) : NULL, *e = json_dump(value);
                EXPECT(json_equal(actual, value), "event %zu: payload %s is %s, expected %s", i + 1,
                       key, a ? a : "(absent)", e);
                free(a);
                free(e);
            }
        }
    }
    json_free(events);
}

static void check_execution(vms_t *vms, const json *exec, const json *step) {
    const json *value = json_get(step, "value");
    const json *result_type = json_get(step, "result_type");
    const char *error_message = json_str(step, "error_message");
    const json *events = json_get(step, "events");
    EXPECT(strcmp(need_str(exec, "status"), need_str(step, "status")) == 0, "status %s, expected %s (%s)",
           need_str(exec, "status"), need_str(step, "status"),
           json_str(exec, "error") ? json_str(exec, "error") : "");
    if (value) {
        const json *actual = exec_value(exec);
        char *a = actual ? json_dump(actual) : NULL, *e = json_dump(value);
        EXPECT(json_equal(actual, value), "value %s, expected %s", a ? a : "(absent)", e);
        free(a);
        free(e);
    }
    if (result_type)
        EXPECT(json_equal(json_get(json_get(exec, "result"), "type"), result_type), "result type");
    if (error_message)
        EXPECT(json_str(exec, "error") && strcmp(json_str(exec, "error"), error_message) == 0,
               "error %s, expected %s", json_str(exec, "error") ? json_str(exec, "error") : "(null)",
               error_message);
    if (events) check_events(vms, json_str(exec, "id"), events);
}

static size_t execution_count(vms_t *vms, const char *session_id) {
    char *out = NULL;
    json *list = must(vms_execution_list(vms, session_id, 10000, &out), &out, "vms_execution_list");
    size_t n = list->len;
    json_free(list);
    return n;
}

typedef struct {
    const vms_t *vms;
    const char *session_id;
    const char *input;
    vms_error_t *err;
    char *out;
} hold_job;

static void *hold(void *arg) {
    hold_job *job = (hold_job *)arg;
    job->err = vms_repl(job->vms, job->session_id, job->input, NULL, NULL, &job->out);
    return NULL;
}

/* Runs one step; returns the error of the call (NULL on success) and the result in *out. */
static vms_error_t *run_step(vms_t *vms, const char *sid, const json *step, char **out) {
    const char *op = need_str(step, "op");
    if (strcmp(op, "repl") == 0) return vms_repl(vms, sid, need_str(step, "input"), NULL, NULL, out);
    if (strcmp(op, "run_file") == 0) {
        const json *args = json_get(step, "args"), *env = json_get(step, "env");
        char *a = args ? json_dump(args) : NULL, *e = env ? json_dump(env) : NULL;
        vms_error_t *err = vms_run_file(vms, sid, need_str(step, "path"), a, e, NULL, NULL, out);
        free(a);
        free(e);
        return err;
    }
    if (strcmp(op, "busy") == 0) {
        hold_job job;
        pthread_t thread;
        char *running = NULL;
        vms_error_t *err;
        int i;
        job.vms = vms;
        job.session_id = sid;
        job.input = need_str(step, "hold");
        job.err = NULL;
        job.out = NULL;
        CHECK(pthread_create(&thread, NULL, hold, &job) == 0);
        for (i = 0; i < 120000 && !running; i++) {
            OK(vms_session_running_execution(vms, sid, &running));
            if (!running) sleep_ms(1);
        }
        EXPECT(running != NULL, "hold never started");
        vms_string_free(running);
        err = vms_repl(vms, sid, need_str(step, "input"), NULL, NULL, out);
        CHECK(pthread_join(thread, NULL) == 0);
        EXPECT(job.err == NULL, "hold failed: %s", vms_error_message(job.err));
        vms_string_free(job.out);
        return err;
    }
    EXPECT(0, "unknown op %s", op);
    return NULL;
}

static void run_case(const char *path, const char *name) {
    char *text = json_read_file(path), *worktree = make_temp_dir(), *outside = make_temp_dir();
    json *spec = text ? json_parse(text) : NULL;
    const json *setup, *expect, *steps, *list;
    const char *session_error, *expected_status;
    vms_t *vms = open_memory();
    char *tid, *sid = NULL, *out = NULL;
    vms_error_t *err;
    json *session;
    size_t i;

    case_name = name;
    snprintf(what, sizeof what, "setup");
    EXPECT(spec != NULL, "cannot read or parse %s", path);
    free(text);
    write_files(worktree, json_get(spec, "files"));
    write_files(outside, json_get(spec, "outside_files"));
    make_symlinks(worktree, outside, json_get(spec, "symlinks"));

    tid = new_template(vms, name);
    setup = json_get(spec, "template");
    if (json_get(setup, "settings")) {
        char *patch = json_dump(json_get(setup, "settings"));
        OK(vms_settings_update(vms, tid, patch, NULL));
        free(patch);
    }
    list = json_get(setup, "startup_files");
    for (i = 0; list && i < list->len; i++) {
        const json *f = &list->items[i];
        const json *order = json_get(f, "order_index");
        OK(vms_startup_file_add(vms, tid, json_str(f, "path"), order ? (int64_t)order->number : 0,
                                json_str(f, "mode"), NULL));
    }
    list = json_get(setup, "modules");
    for (i = 0; list && i < list->len; i++) OK(vms_module_add(vms, tid, list->items[i].string));

    snprintf(what, sizeof what, "session");
    expect = json_get(spec, "session");
    session_error = json_str(expect, "error");
    expected_status = json_str(expect, "status") ? json_str(expect, "status") : "ready";
    err = vms_session_create(vms, tid, "ws-conformance", "0000000", worktree, NULL, NULL, &out);
    if (session_error) {
        json *details;
        EXPECT(err != NULL, "session created, expected %s", session_error);
        EXPECT(strcmp(vms_status_name(vms_error_code(err)), session_error) == 0, "session error %s (%s), expected %s",
               vms_status_name(vms_error_code(err)), vms_error_message(err), session_error);
        details = json_parse(vms_error_details_json(err));
        EXPECT(json_str(details, "session_id") != NULL, "error carries no session id");
        sid = dup_str(details, "session_id");
        json_free(details);
        vms_error_free(err);
    } else {
        session = must(err, &out, "vms_session_create");
        sid = dup_str(session, "id");
        json_free(session);
    }
    session = must(vms_session_get(vms, sid, &out), &out, "vms_session_get");
    EXPECT(strcmp(need_str(session, "status"), expected_status) == 0, "session status %s, expected %s",
           need_str(session, "status"), expected_status);

    list = json_get(expect, "startup");
    if (list) {
        json *execs = must(vms_execution_list(vms, sid, 50, &out), &out, "vms_execution_list");
        EXPECT(execs->len == list->len, "%zu startup executions, expected %zu", execs->len, list->len);
        for (i = 0; i < list->len; i++) {
            const json *exec = &execs->items[execs->len - 1 - i];
            snprintf(what, sizeof what, "startup %s", need_str(&list->items[i], "path"));
            EXPECT(strcmp(need_str(exec, "kind"), "startup") == 0, "kind %s", need_str(exec, "kind"));
            EXPECT(strcmp(need_str(exec, "path"), need_str(&list->items[i], "path")) == 0, "path %s",
                   need_str(exec, "path"));
            check_execution(vms, exec, &list->items[i]);
        }
        json_free(execs);
    }

    steps = json_get(spec, "steps");
    for (i = 0; steps && i < steps->len; i++) {
        const json *step = &steps->items[i];
        const char *code = json_str(step, "error");
        size_t before = execution_count(vms, sid);
        snprintf(what, sizeof what, "step %zu (%s)", i + 1, need_str(step, "op"));
        out = NULL;
        err = run_step(vms, sid, step, &out);
        if (code) {
            size_t held = strcmp(need_str(step, "op"), "busy") == 0;
            EXPECT(err != NULL, "succeeded, expected %s", code);
            EXPECT(strcmp(vms_status_name(vms_error_code(err)), code) == 0, "error %s (%s), expected %s",
                   vms_status_name(vms_error_code(err)), vms_error_message(err), code);
            EXPECT(out == NULL, "out was written on failure");
            EXPECT(execution_count(vms, sid) == before + held, "a refused request created a record");
            vms_error_free(err);
        } else {
            json *exec = must(err, &out, "the step");
            check_execution(vms, exec, step);
            json_free(exec);
        }
    }

    if (strcmp(need_str(session, "status"), "ready") == 0) {
        json *closed = must(vms_session_close(vms, sid, &out), &out, "vms_session_close");
        snprintf(what, sizeof what, "close");
        EXPECT(strcmp(need_str(closed, "status"), "closed") == 0, "closed status %s", need_str(closed, "status"));
        json_free(closed);
    }
    json_free(session);
    json_free(spec);
    free(sid);
    free(tid);
    vms_free(vms);
    remove_tree(worktree);
    remove_tree(outside);
}

static int is_case(const struct dirent *entry) {
    size_t n = strlen(entry->d_name);
    return n > 5 && strcmp(entry->d_name + n - 5, ".json") == 0;
}

int main(int argc, char **argv) {
    struct dirent **entries;
    int n, i;
    if (argc < 2) {
        fprintf(stderr, "usage: %s CASES_DIR\n", argv[0]);
        return 2;
    }
    n = scandir(argv[1], &entries, is_case, alphasort);
    CHECK(n >= 0);
    if (n == 0) {
        fprintf(stderr, "no conformance cases in %s\n", argv[1]);
        free(entries);
        return 1;
    }
    for (i = 0; i < n; i++) {
        char path[4096], name[256];
        snprintf(path, sizeof path, "%s/%s", argv[1], entries[i]->d_name);
        snprintf(name, sizeof name, "%.*s", (int)(strlen(entries[i]->d_name) - 5), entries[i]->d_name);
        run_case(path, name);
        printf("conformance %s: ok\n", name);
        free(entries[i]);
    }
    free(entries);
    printf("test_conformance: %d cases ok\n", n);
    return 0;
}
