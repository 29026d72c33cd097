/* Executions: repl and run_file with live callbacks, records, events, cancellation from
 * another thread, limits, and parallel sessions on one handle. */

#include "check.h"

typedef struct {
    int count;
    int fail;
    char log[4096];
} watcher;

/* Appends "type:seq " per event; returns non-zero when asked to fail. */
static int watch(const char *event_json, void *user_data) {
    watcher *w = (watcher *)user_data;
    json *event = json_parse(event_json);
    const char *type;
    char item[64];
    CHECK(event != NULL);
    type = json_str(event, "type");
    CHECK(type != NULL);
    snprintf(item, sizeof item, "%s:%d ", type, (int)json_get(event, "seq")->number);
    strncat(w->log, item, sizeof w->log - strlen(w->log) - 1);
    w->count++;
    json_free(event);
    return w->fail;
}

static void test_repl(vms_t *vms, const char *sid) {
    char *out = NULL, *eid;
    json *exec, *events, *more, *list;
    watcher w;

    memset(&w, 0, sizeof w);
    OK(vms_repl(vms, sid, "var counter = 20; console.log('hi', {a: 1}); counter + 22", watch, &w, &out));
    exec = take_json(out);
    CHECK_STR(json_str(exec, "status"), "ok");
    CHECK_STR(json_str(exec, "kind"), "repl");
    CHECK(exec_value(exec)->number == 42);
    CHECK(json_get(json_get(exec, "metrics"), "event_count")->number == 3);
    CHECK(json_get(json_get(exec, "metrics"), "duration_ms") != NULL);
    CHECK_STR(w.log, "input_echo:1 console:2 value:3 ");
    eid = dup_str(exec, "id");
    json_free(exec);

    /* state persists; out may be NULL */
    OK(vms_repl(vms, sid, "counter += 1", NULL, NULL, NULL));
    exec = repl_ok(vms, sid, "counter");
    CHECK(exec_value(exec)->number == 21);
    json_free(exec);

    OK(vms_events(vms, eid, 0, &out));
    events = take_json(out);
    CHECK(events->len == 3);
    CHECK_STR(json_str(&events->items[1], "type"), "console");
    CHECK_STR(json_str(json_get(&events->items[1], "payload"), "text"), "hi {\"a\":1}");
    CHECK_STR(json_str(&events->items[1], "execution_id"), eid);
    CHECK(json_str(&events->items[1], "ts") != NULL);
    json_free(events);
    OK(vms_events(vms, eid, 2, &out));
    more = take_json(out);
    CHECK(more->len == 1 && json_get(&more->items[0], "seq")->number == 3);
    json_free(more);

    OK(vms_execution_get(vms, eid, &out));
    exec = take_json(out);
    CHECK_STR(json_str(exec, "id"), eid);
    CHECK_STR(json_str(exec, "session_id"), sid);
    CHECK(json_str(exec, "ended_at") != NULL);
    json_free(exec);

    OK(vms_execution_list(vms, sid, 2, &out));
    list = take_json(out);
    CHECK(list->len == 2);
    CHECK_STR(json_str(&list->items[0], "input"), "counter");
    json_free(list);

    /* a JavaScript exception is not an API error */
    exec = repl_ok(vms, sid, "undefinedThing.x");
    CHECK_STR(json_str(exec, "status"), "error");
    CHECK(strstr(json_str(exec, "error"), "ReferenceError") != NULL);
    json_free(exec);

    /* a failing callback does not break the execution: it becomes a system event */
    memset(&w, 0, sizeof w);
    w.fail = 7;
    OK(vms_repl(vms, sid, "'still fine'", watch, &w, &out));
    exec = take_json(out);
    CHECK_STR(json_str(exec, "status"), "ok");
    CHECK_STR(exec_value(exec)->string, "still fine");
    OK(vms_events(vms, json_str(exec, "id"), 0, &out));
    events = take_json(out);
    {
        size_t i;
        int system_seen = 0;
        for (i = 0; i < events->len; i++)
            if (strcmp(json_str(&events->items[i], "type"), "system") == 0) system_seen = 1;
        CHECK(system_seen);
    }
    json_free(events);
    json_free(exec);
    free(eid);
}

static void test_run_file(vms_t *vms, const char *sid, const char *worktree) {
    char *out = NULL;
    json *exec;
    watcher w;

    memset(&w, 0, sizeof w);
    write_file(worktree, "scripts/job.js",
               "console.log('stage', __ENV__.STAGE); ({ n: __ARGS__.rows.length })");
    OK(vms_run_file(vms, sid, "scripts/job.js", "{\"rows\": [1, 2, 3]}", "{\"STAGE\": \"test\"}",
                    watch, &w, &out));
    exec = take_json(out);
    CHECK_STR(json_str(exec, "status"), "ok");
    CHECK_STR(json_str(exec, "kind"), "run_file");
    CHECK_STR(json_str(exec, "path"), "scripts/job.js");
    CHECK(json_get(exec_value(exec), "n")->number == 3);
    CHECK_STR(json_str(json_get(exec, "env"), "STAGE"), "test");
    CHECK_STR(w.log, "input_echo:1 console:2 value:3 ");
    json_free(exec);

    /* NULL args and env mean {} */
    OK(vms_run_file(vms, sid, "scripts/job.js", NULL, NULL, NULL, NULL, &out));
    exec = take_json(out);
    CHECK_STR(json_str(exec, "status"), "error");
    json_free(exec);

    FAILS(vms_run_file(vms, sid, "scripts/job.js", "[1]", NULL, NULL, NULL, NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_run_file(vms, sid, "scripts/job.js", NULL, "{\"N\": 1}", NULL, NULL, NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_run_file(vms, sid, "scripts/job.js", "{oops", NULL, NULL, NULL, NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_run_file(vms, sid, "../outside.js", NULL, NULL, NULL, NULL, NULL), VMS_INVALID_PATH);
    FAILS(vms_run_file(vms, sid, "missing.js", NULL, NULL, NULL, NULL, NULL), VMS_FILE_NOT_FOUND);
}

typedef struct {
    const vms_t *vms;
    const char *sid;
    const char *input;
    vms_error_t *err;
    char *out;
} repl_job;

static void *run_repl(void *arg) {
    repl_job *job = (repl_job *)arg;
    job->err = vms_repl(job->vms, job->sid, job->input, NULL, NULL, &job->out);
    return NULL;
}

static char *wait_running(vms_t *vms, const char *sid) {
    char *eid = NULL;
    int i;
    for (i = 0; i < 120000 && !eid; i++) {
        OK(vms_session_running_execution(vms, sid, &eid));
        if (!eid) sleep_ms(1);
    }
    CHECK(eid != NULL);
    return eid;
}

/* vms_repl_n takes the input's length: a NUL inside a literal is part of the program. */
static void test_repl_n(vms_t *vms, const char *sid) {
    static const char input[] = "'a\0b'.length + /x\0y/.source.length";
    char *out = NULL;
    json *exec;

    OK(vms_repl_n(vms, sid, input, sizeof input - 1, NULL, NULL, &out));
    exec = take_json(out);
    CHECK_STR(json_str(exec, "status"), "ok");
    CHECK(exec_value(exec)->number == 6);
    json_free(exec);
    /* the C string form ends at the first NUL: the program is then "'a" */
    OK(vms_repl(vms, sid, input, NULL, NULL, &out));
    exec = take_json(out);
    CHECK_STR(json_str(exec, "status"), "error");
    json_free(exec);
    OK(vms_repl_n(vms, sid, "1 + 2 garbage", 5, NULL, NULL, &out));
    exec = take_json(out);
    CHECK(exec_value(exec)->number == 3);
    json_free(exec);
    FAILS(vms_repl_n(vms, sid, "\xff", 1, NULL, NULL, NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_repl_n(vms, sid, NULL, 3, NULL, NULL, NULL), VMS_VALIDATION_ERROR);
}

static void test_cancel(vms_t *vms, const char *sid) {
    repl_job job = {NULL, NULL, "while (true) {}", NULL, NULL};
    pthread_t thread;
    char *eid, *out = NULL;
    json *exec;

    job.vms = vms;
    job.sid = sid;
    CHECK(pthread_create(&thread, NULL, run_repl, &job) == 0);
    eid = wait_running(vms, sid);
    FAILS(vms_repl(vms, sid, "1", NULL, NULL, NULL), VMS_SESSION_BUSY);
    OK(vms_execution_cancel(vms, eid));
    CHECK(pthread_join(thread, NULL) == 0);
    OK(job.err);
    exec = take_json(job.out);
    CHECK_STR(json_str(exec, "status"), "cancelled");
    CHECK_STR(json_str(exec, "id"), eid);
    json_free(exec);

    /* cancelling an ended execution leaves it as it is */
    OK(vms_execution_cancel(vms, eid));
    OK(vms_execution_get(vms, eid, &out));
    exec = take_json(out);
    CHECK_STR(json_str(exec, "status"), "cancelled");
    json_free(exec);
    free(eid);
    FAILS(vms_execution_cancel(vms, "no-such-execution"), VMS_EXECUTION_NOT_FOUND);
}

static void test_limits(vms_t *vms, const char *worktree) {
    char *tid = new_template(vms, "limits");
    char *sid, *out = NULL;
    json *exec;

    OK(vms_settings_update(vms, tid, "{\"limits\": {\"cpu_ms\": 200, \"wall_ms\": 2000}}", NULL));
    sid = new_session(vms, tid, worktree);
    OK(vms_repl(vms, sid, "for (;;) {}", NULL, NULL, &out));
    exec = take_json(out);
    CHECK_STR(json_str(exec, "status"), "timeout");
    json_free(exec);
    exec = repl_ok(vms, sid, "function f() { return f(); } try { f() } catch (e) { e.name }");
    CHECK_STR(exec_value(exec)->string, "RangeError");
    json_free(exec);
    free(sid);
    free(tid);
}

static void test_parallel_sessions(vms_t *vms, const char *worktree) {
    char *tid = new_template(vms, "parallel");
    char *a = new_session(vms, tid, worktree), *b = new_session(vms, tid, worktree);
    repl_job ja = {NULL, NULL, "let s = 0; for (let i = 0; i < 300000; i++) s += i; s", NULL, NULL};
    repl_job jb = {NULL, NULL, "let s = 0; for (let i = 0; i < 300000; i++) s += i; s", NULL, NULL};
    pthread_t ta, tb;
    json *ea, *eb;

    ja.vms = jb.vms = vms;
    ja.sid = a;
    jb.sid = b;
    CHECK(pthread_create(&ta, NULL, run_repl, &ja) == 0);
    CHECK(pthread_create(&tb, NULL, run_repl, &jb) == 0);
    CHECK(pthread_join(ta, NULL) == 0 && pthread_join(tb, NULL) == 0);
    OK(ja.err);
    OK(jb.err);
    ea = take_json(ja.out);
    eb = take_json(jb.out);
    CHECK(exec_value(ea)->number == 44999850000.0 && exec_value(eb)->number == 44999850000.0);
    json_free(ea);
    json_free(eb);
    free(a);
    free(b);
    free(tid);
}

int main(void) {
    char *worktree = make_temp_dir();
    vms_t *vms = open_memory();
    char *tid = new_template(vms, "execution");
    char *sid = new_session(vms, tid, worktree);

    test_repl(vms, sid);
    test_run_file(vms, sid, worktree);
    test_repl_n(vms, sid);
    test_cancel(vms, sid);
    test_limits(vms, worktree);
    test_parallel_sessions(vms, worktree);

    free(sid);
    free(tid);
    vms_free(vms);
    remove_tree(worktree);
    printf("test_execution: ok\n");
    return 0;
}
