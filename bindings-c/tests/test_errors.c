/* Errors: every status code the C API can return, the error accessors, details, and the
 * safety of the boundary (NULL pointers, invalid UTF-8, malformed JSON, untouched
 * out-parameters, NULL-accepting free functions). */

#include "check.h"

static void test_status_names(void) {
    static const char *names[] = {
        "OK", "VALIDATION_ERROR", "TEMPLATE_NOT_FOUND", "SESSION_NOT_FOUND",
        "EXECUTION_NOT_FOUND", "FILE_NOT_FOUND", "SESSION_NOT_READY", "SESSION_BUSY",
        "INVALID_PATH", "OUTPUT_LIMIT_EXCEEDED", "STARTUP_MODE_UNSUPPORTED",
        "MODULE_NOT_ALLOWED", "STARTUP_FAILED", "INTERNAL", "NO_CAPACITY",
        "STORE_UNAVAILABLE"};
    unsigned i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) CHECK_STR(vms_status_name(i), names[i]);
    CHECK_STR(vms_status_name(99), "UNKNOWN");
    /* the numbers are part of the ABI */
    CHECK(VMS_OK == 0 && VMS_VALIDATION_ERROR == 1 && VMS_SESSION_BUSY == 7 && VMS_INTERNAL == 13 &&
          VMS_NO_CAPACITY == 14 && VMS_STORE_UNAVAILABLE == 15);
}

static void test_null_safety(void) {
    vms_t *vms = open_memory();
    char *out = (char *)"untouched";
    vms_t *handle = (vms_t *)&out;
    char *tid = new_template(vms, "nulls");

    /* accessors and free functions accept NULL */
    CHECK(vms_error_code(NULL) == VMS_OK);
    CHECK_STR(vms_error_message(NULL), "");
    CHECK_STR(vms_error_details_json(NULL), "{}");
    vms_error_free(NULL);
    vms_string_free(NULL);
    vms_free(NULL);

    FAILS(vms_open(NULL, NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_open("", &handle), VMS_VALIDATION_ERROR);
    CHECK(handle == (vms_t *)&out);
    FAILS(vms_template_list(NULL, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_template_list(vms, NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_template_create(vms, NULL, NULL, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_template_get(vms, NULL, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_template_delete(NULL, tid), VMS_VALIDATION_ERROR);
    FAILS(vms_settings_update(vms, NULL, "{}", &out), VMS_VALIDATION_ERROR);
    FAILS(vms_startup_file_add(vms, tid, NULL, 0, NULL, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_startup_file_list(vms, tid, NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_startup_file_remove(vms, tid, NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_capability_add(vms, tid, NULL, "x", true, NULL, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_capability_list(NULL, tid, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_module_add(vms, tid, NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_module_remove(vms, NULL, "fs"), VMS_VALIDATION_ERROR);
    FAILS(vms_module_list(vms, tid, NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_modules_available(NULL, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_library_add(vms, tid, NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_library_remove(NULL, tid, "x"), VMS_VALIDATION_ERROR);
    FAILS(vms_library_list(vms, NULL, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_libraries_available(vms, NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_library_install(vms, NULL, NULL, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_libraries_installed(NULL, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_library_cache(vms, NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_session_create(vms, tid, "ws", "abc", NULL, NULL, NULL, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_session_create(vms, tid, "ws", "abc", "/tmp", NULL, NULL, NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_session_get(vms, NULL, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_session_list(NULL, NULL, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_session_close(vms, NULL, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_session_running_execution(vms, NULL, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_runtime_summary(vms, NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_repl(vms, "s", NULL, NULL, NULL, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_run_file(vms, NULL, "a.js", NULL, NULL, NULL, NULL, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_execution_get(vms, NULL, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_execution_list(vms, NULL, 50, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_execution_cancel(NULL, "e"), VMS_VALIDATION_ERROR);
    FAILS(vms_events(vms, NULL, 0, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_close(NULL), VMS_VALIDATION_ERROR);

    /* out-parameters are untouched on failure */
    CHECK_STR(out, "untouched");
    free(tid);
    vms_free(vms);
}

static void test_bad_text(void) {
    vms_t *vms = open_memory();
    char *tid = new_template(vms, "bad-text");
    char *out = (char *)"untouched";
    const char bad_utf8[] = {'a', (char)0xC3, (char)0x28, 0};
    vms_error_t *err;

    err = vms_template_create(vms, bad_utf8, NULL, &out);
    CHECK(vms_error_code(err) == VMS_VALIDATION_ERROR);
    CHECK(strstr(vms_error_message(err), "UTF-8") != NULL);
    CHECK_STR(vms_error_details_json(err), "{}");
    vms_error_free(err);
    FAILS(vms_settings_update(vms, tid, bad_utf8, &out), VMS_VALIDATION_ERROR);
    FAILS(vms_settings_update(vms, tid, "{\"limits\": {", &out), VMS_VALIDATION_ERROR);
    FAILS(vms_settings_update(vms, tid, "", &out), VMS_VALIDATION_ERROR);
    FAILS(vms_capability_add(vms, tid, "fs", "x", true, "{'single': 1}", &out), VMS_VALIDATION_ERROR);
    FAILS(vms_open(bad_utf8, (vms_t **)&out), VMS_VALIDATION_ERROR);
    CHECK_STR(out, "untouched");
    free(tid);
    vms_free(vms);
}

static void test_not_found(void) {
    vms_t *vms = open_memory();
    char *out = NULL;
    FAILS(vms_template_get(vms, "00000000-0000-0000-0000-000000000000", &out), VMS_TEMPLATE_NOT_FOUND);
    FAILS(vms_startup_file_list(vms, "nope", &out), VMS_TEMPLATE_NOT_FOUND);
    FAILS(vms_capability_add(vms, "nope", "fs", "x", true, NULL, &out), VMS_TEMPLATE_NOT_FOUND);
    FAILS(vms_module_add(vms, "nope", "fs"), VMS_TEMPLATE_NOT_FOUND);
    FAILS(vms_library_add(vms, "nope", "lodash-4.17.21"), VMS_TEMPLATE_NOT_FOUND);
    FAILS(vms_session_get(vms, "nope", &out), VMS_SESSION_NOT_FOUND);
    FAILS(vms_repl(vms, "nope", "1", NULL, NULL, &out), VMS_SESSION_NOT_FOUND);
    FAILS(vms_execution_get(vms, "nope", &out), VMS_EXECUTION_NOT_FOUND);
    FAILS(vms_events(vms, "nope", 0, &out), VMS_EXECUTION_NOT_FOUND);
    CHECK(out == NULL);
    vms_free(vms);
}

typedef struct {
    const vms_t *vms;
    const char *sid;
    vms_error_t *err;
    char *out;
} hold_job;

static void *hold(void *arg) {
    hold_job *job = (hold_job *)arg;
    job->err = vms_repl(job->vms, job->sid, "const until = Date.now() + 400; while (Date.now() < until) {} 'held'",
                        NULL, NULL, &job->out);
    return NULL;
}

static void test_session_codes(void) {
    char *worktree = make_temp_dir();
    vms_t *vms = open_memory();
    char *tid = new_template(vms, "codes");
    char *sid, *out = NULL, *running = NULL;
    vms_error_t *err;
    json *details, *exec;
    hold_job job;
    pthread_t thread;
    int i;

    write_file(worktree, "ok.js", "'fine'");
    write_file(worktree, "noisy.js", "for (let i = 0; i < 100; i++) console.log('line', i)");
    OK(vms_settings_update(vms, tid, "{\"limits\": {\"max_events\": 5}}", NULL));
    sid = new_session(vms, tid, worktree);

    FAILS(vms_run_file(vms, sid, "/etc/hostname", NULL, NULL, NULL, NULL, &out), VMS_INVALID_PATH);
    FAILS(vms_run_file(vms, sid, "../ok.js", NULL, NULL, NULL, NULL, &out), VMS_INVALID_PATH);
    FAILS(vms_run_file(vms, sid, "absent.js", NULL, NULL, NULL, NULL, &out), VMS_FILE_NOT_FOUND);
    FAILS(vms_execution_list(vms, sid, 0, &out), VMS_VALIDATION_ERROR);
    CHECK(out == NULL);

    /* OUTPUT_LIMIT_EXCEEDED carries the stopped execution's id */
    err = vms_run_file(vms, sid, "noisy.js", NULL, NULL, NULL, NULL, &out);
    CHECK(vms_error_code(err) == VMS_OUTPUT_LIMIT_EXCEEDED);
    CHECK(out == NULL);
    details = json_parse(vms_error_details_json(err));
    CHECK(details != NULL && json_str(details, "execution_id") != NULL);
    OK(vms_execution_get(vms, json_str(details, "execution_id"), &out));
    exec = take_json(out);
    CHECK_STR(json_str(exec, "status"), "error");
    json_free(exec);
    OK(vms_events(vms, json_str(details, "execution_id"), 0, &out));
    exec = take_json(out);
    CHECK(exec->len >= 5 && exec->len <= 6);
    CHECK_STR(json_str(&exec->items[exec->len - 1], "type"), "system");
    json_free(exec);
    json_free(details);
    vms_error_free(err);

    /* SESSION_BUSY carries the session id */
    job.vms = vms;
    job.sid = sid;
    job.err = NULL;
    job.out = NULL;
    CHECK(pthread_create(&thread, NULL, hold, &job) == 0);
    for (i = 0; i < 120000 && !running; i++) {
        OK(vms_session_running_execution(vms, sid, &running));
        if (!running) sleep_ms(1);
    }
    CHECK(running != NULL);
    err = vms_repl(vms, sid, "1 + 1", NULL, NULL, &out);
    CHECK(vms_error_code(err) == VMS_SESSION_BUSY);
    details = json_parse(vms_error_details_json(err));
    CHECK_STR(json_str(details, "session_id"), sid);
    json_free(details);
    vms_error_free(err);
    CHECK(pthread_join(thread, NULL) == 0);
    OK(job.err);
    exec = take_json(job.out);
    CHECK_STR(exec_value(exec)->string, "held");
    json_free(exec);
    vms_string_free(running);

    OK(vms_session_close(vms, sid, NULL));
    FAILS(vms_repl(vms, sid, "1", NULL, NULL, &out), VMS_SESSION_NOT_READY);
    FAILS(vms_run_file(vms, sid, "ok.js", NULL, NULL, NULL, NULL, &out), VMS_SESSION_NOT_READY);

    FAILS(vms_startup_file_add(vms, tid, "a.js", 0, "script", &out), VMS_STARTUP_MODE_UNSUPPORTED);
    FAILS(vms_module_add(vms, tid, "console"), VMS_MODULE_NOT_ALLOWED);

    /* a startup path that escapes / is missing crashes the session, carrying its id */
    OK(vms_startup_file_add(vms, tid, "runtime/absent.js", 0, NULL, NULL));
    err = vms_session_create(vms, tid, "ws", "abc", worktree, NULL, NULL, &out);
    CHECK(vms_error_code(err) == VMS_FILE_NOT_FOUND);
    details = json_parse(vms_error_details_json(err));
    CHECK(json_str(details, "session_id") != NULL);
    json_free(details);
    vms_error_free(err);
    OK(vms_startup_file_remove(vms, tid, "runtime/absent.js"));

    write_file(worktree, "boom.js", "throw new TypeError('no')");
    OK(vms_startup_file_add(vms, tid, "boom.js", 0, NULL, NULL));
    out = NULL;
    FAILS(vms_session_create(vms, tid, "ws", "abc", worktree, NULL, NULL, &out), VMS_STARTUP_FAILED);
    CHECK(out == NULL);

    free(sid);
    free(tid);
    vms_free(vms);
    remove_tree(worktree);
}

static void test_foreign_files(void) {
    char *dir = make_temp_dir();
    char db[4096], junk[2048], back[2048];
    vms_t *vms = NULL;
    vms_error_t *err;
    FILE *f;

    /* a file that is not a SQLite database: refused as the caller's mistake, untouched */
    memset(junk, 'x', sizeof junk - 1);
    junk[sizeof junk - 1] = '\0';
    write_file(dir, "junk.db", junk);
    snprintf(db, sizeof db, "%s/junk.db", dir);
    err = vms_open(db, &vms);
    CHECK(vms_error_code(err) == VMS_VALIDATION_ERROR);
    CHECK(strstr(vms_error_message(err), "not a vm-system database") != NULL);
    vms_error_free(err);
    CHECK(vms == NULL);
    f = fopen(db, "rb");
    CHECK(f != NULL);
    CHECK(fread(back, 1, sizeof back, f) == sizeof junk - 1);
    fclose(f);
    CHECK(memcmp(back, junk, sizeof junk - 1) == 0);
    /* a database that cannot be created is the caller's mistake too, as the header says */
    FAILS(vms_open("/nonexistent-dir-for-vms-tests/sub/vm.db", &vms), VMS_VALIDATION_ERROR);
    CHECK(vms == NULL);
    /* ":memory:" is SQLite's name for a private in-memory database */
    CHECK(vms_open(":memory:", &vms) == NULL);
    CHECK(vms != NULL);
    vms_free(vms);
    CHECK(access(":memory:", F_OK) != 0);
    remove_tree(dir);
}

int main(void) {
    test_status_names();
    test_null_safety();
    test_bad_text();
    test_not_found();
    test_session_codes();
    test_foreign_files();
    printf("test_errors: ok\n");
    return 0;
}
