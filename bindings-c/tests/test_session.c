/* Sessions: create (with startup files and a live callback), get, list, close, the
 * runtime summary, crashed sessions, and vms_close. */
#include "check.h"

typedef struct {
    int count;
    int last_seq;
    char types[16][16];
} seen_events;

static int collect(const char *event_json, void *user_data) {
    seen_events *seen = (seen_events *)user_data;
    json *event = json_parse(event_json);
    CHECK(event != NULL);
    CHECK(json_get(event, "seq")->number == seen->last_seq + 1 || json_get(event, "seq")->number == 1);
    seen->last_seq = (int)json_get(event, "seq")->number;
    if (seen->count < 16) {
        strncpy(seen->types[seen->count], json_str(event, "type"), 15);
        seen->types[seen->count][15] = '\0';
    }
    seen->count++;
    json_free(event);
    return 0;
}

static void test_lifecycle(void) {
    char *worktree = make_temp_dir();
    vms_t *vms = open_memory();
    char *tid = new_template(vms, "lifecycle");
    char *out = NULL, *sid;
    json *session, *list, *summary, *execs, *v;
    seen_events seen;

    memset(&seen, 0, sizeof seen);
    write_file(worktree, "runtime/init.js", "console.log('booting'); globalThis.booted = true;");
    OK(vms_startup_file_add(vms, tid, "runtime/init.js", 0, NULL, NULL));
    OK(vms_session_create(vms, tid, "ws-1", "abc123", worktree, collect, &seen, &out));
    session = take_json(out);
    CHECK_STR(json_str(session, "status"), "ready");
    CHECK_STR(json_str(session, "template_id"), tid);
    CHECK_STR(json_str(session, "workspace_id"), "ws-1");
    CHECK_STR(json_str(session, "base_commit_oid"), "abc123");
    CHECK_STR(json_str(session, "worktree_path"), worktree);
    /* the owner instance: a UUID */
    CHECK(strlen(json_str(session, "daemon_id")) == 36);
    CHECK(json_get(session, "closed_at")->type == JSON_NULL);
    sid = dup_str(session, "id");
    json_free(session);

    /* the startup file's events reached the callback live */
    CHECK(seen.count == 3);
    CHECK_STR(seen.types[0], "input_echo");
    CHECK_STR(seen.types[1], "console");
    CHECK_STR(seen.types[2], "value");

    OK(vms_execution_list(vms, sid, 50, &out));
    execs = take_json(out);
    CHECK(execs->len == 1);
    CHECK_STR(json_str(&execs->items[0], "kind"), "startup");
    CHECK_STR(json_str(&execs->items[0], "path"), "runtime/init.js");
    json_free(execs);

    v = repl_ok(vms, sid, "booted");
    CHECK(exec_value(v)->boolean == 1);
    json_free(v);

    OK(vms_session_get(vms, sid, &out));
    session = take_json(out);
    CHECK_STR(json_str(session, "id"), sid);
    json_free(session);

    OK(vms_session_list(vms, NULL, &out));
    list = take_json(out);
    CHECK(list->len == 1);
    json_free(list);
    OK(vms_session_list(vms, "ready", &out));
    list = take_json(out);
    CHECK(list->len == 1);
    json_free(list);
    OK(vms_session_list(vms, "closed", &out));
    list = take_json(out);
    CHECK(list->len == 0);
    json_free(list);
    FAILS(vms_session_list(vms, "sleeping", &out), VMS_VALIDATION_ERROR);

    OK(vms_runtime_summary(vms, &out));
    summary = take_json(out);
    CHECK(json_get(summary, "active_sessions")->number == 1);
    CHECK_STR(json_get(summary, "active_session_ids")->items[0].string, sid);
    json_free(summary);

    OK(vms_session_running_execution(vms, sid, &out));
    CHECK(out == NULL);

    OK(vms_session_close(vms, sid, &out));
    session = take_json(out);
    CHECK_STR(json_str(session, "status"), "closed");
    CHECK(json_str(session, "closed_at") != NULL);
    json_free(session);
    /* closing again returns it as is; out may be NULL */
    OK(vms_session_close(vms, sid, NULL));
    FAILS(vms_repl(vms, sid, "1", NULL, NULL, NULL), VMS_SESSION_NOT_READY);

    OK(vms_runtime_summary(vms, &out));
    summary = take_json(out);
    CHECK(json_get(summary, "active_sessions")->number == 0);
    json_free(summary);

    free(sid);
    free(tid);
    vms_free(vms);
    remove_tree(worktree);
}

static void test_crashed(void) {
    char *worktree = make_temp_dir();
    vms_t *vms = open_memory();
    char *tid = new_template(vms, "crash");
    char *out = (char *)"untouched";
    vms_error_t *err;
    json *details, *session;

    write_file(worktree, "boom.js", "throw new Error('setup exploded')");
    OK(vms_startup_file_add(vms, tid, "boom.js", 0, "eval", NULL));
    err = vms_session_create(vms, tid, "ws", "abc", worktree, NULL, NULL, &out);
    CHECK(vms_error_code(err) == VMS_STARTUP_FAILED);
    CHECK(strstr(vms_error_message(err), "setup exploded") != NULL);
    CHECK_STR(out, "untouched");
    details = json_parse(vms_error_details_json(err));
    CHECK(details != NULL && json_str(details, "session_id") != NULL);
    OK(vms_session_get(vms, json_str(details, "session_id"), &out));
    session = take_json(out);
    CHECK_STR(json_str(session, "status"), "crashed");
    CHECK(strstr(json_str(session, "last_error"), "setup exploded") != NULL);
    FAILS(vms_repl(vms, json_str(details, "session_id"), "1", NULL, NULL, NULL),
          VMS_SESSION_NOT_READY);
    /* closing a crashed session returns it as is */
    OK(vms_session_close(vms, json_str(details, "session_id"), &out));
    json_free(take_json(out));
    json_free(session);
    json_free(details);
    vms_error_free(err);

    FAILS(vms_session_create(vms, "no-such-template", "ws", "abc", worktree, NULL, NULL, &out),
          VMS_TEMPLATE_NOT_FOUND);
    FAILS(vms_session_create(vms, tid, "ws", "abc", "relative/dir", NULL, NULL, &out),
          VMS_VALIDATION_ERROR);
    FAILS(vms_session_create(vms, tid, "", "abc", worktree, NULL, NULL, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_session_get(vms, "no-such-session", &out), VMS_SESSION_NOT_FOUND);
    FAILS(vms_session_close(vms, "no-such-session", &out), VMS_SESSION_NOT_FOUND);
    free(tid);
    vms_free(vms);
    remove_tree(worktree);
}

static void test_close_all(void) {
    char *worktree = make_temp_dir();
    vms_t *vms = open_memory();
    char *tid = new_template(vms, "close-all");
    char *a = new_session(vms, tid, worktree);
    char *b = new_session(vms, tid, worktree);
    char *out = NULL;
    json *list;

    OK(vms_close(vms));
    OK(vms_session_list(vms, "closed", &out));
    list = take_json(out);
    CHECK(list->len == 2);
    json_free(list);
    /* the handle stays usable */
    free(new_template(vms, "after-close"));
    free(a);
    free(b);
    free(tid);
    vms_free(vms);
    remove_tree(worktree);
}

int main(void) {
    test_lifecycle();
    test_crashed();
    test_close_all();
    printf("test_session: ok\n");
    return 0;
}
