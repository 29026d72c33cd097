/*
 * The library inside real hosts: closing from the event callback, calls from another
 * thread while the callback runs, closing while a session starts, and fork().
 *
 * Each scenario runs in a child process under alarm(): one that hangs is killed and fails
 * the test instead of freezing the suite. The parent opens nothing before its children.
 */
#include "check.h"

#include <signal.h>
#include <sys/wait.h>

#define LONG_LIMITS "{\"limits\": {\"wall_ms\": 60000, \"cpu_ms\": 60000}}"
#define SPIN "console.log('go'); while (true) {}"

/* Runs `scenario` in a child process that must exit 0 within `seconds`. */
static void isolated(const char *name, void (*scenario)(void), unsigned seconds) {
    int status = 0;
    pid_t pid;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        alarm(seconds);
        scenario();
        fflush(stdout);
        _exit(0);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "%s: killed by signal %d (%s)\n", name, WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? "hung" : "crashed");
        exit(1);
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    printf("  %s: ok\n", name);
}

struct fixture {
    vms_t *vms;
    char *template_id;
    char *session_id;
    char *tree;
};

static struct fixture setup(const char *db) {
    struct fixture f;
    OK(vms_open(db, &f.vms));
    f.template_id = new_template(f.vms, "hosts");
    OK(vms_settings_update(f.vms, f.template_id, LONG_LIMITS, NULL));
    f.tree = make_temp_dir();
    f.session_id = new_session(f.vms, f.template_id, f.tree);
    return f;
}

static void teardown(struct fixture *f) {
    vms_free(f->vms);
    free(f->template_id);
    free(f->session_id);
    remove_tree(f->tree);
}

static const char *status_of(char *record_json, char *buf, size_t size) {
    json *v = take_json(record_json);
    snprintf(buf, size, "%s", need_str(v, "status"));
    json_free(v);
    return buf;
}

/* ---- closing from the callback ---- */

struct closer {
    struct fixture *f;
    int whole_handle; /* vms_close instead of vms_session_close */
    int calls;
    char closed_status[32];
};

static int close_on_console(const char *event_json, void *user_data) {
    struct closer *c = (struct closer *)user_data;
    if (!strstr(event_json, "\"type\":\"console\"") || c->calls++) return 0;
    if (c->whole_handle) {
        OK(vms_close(c->f->vms));
    } else {
        char *out = NULL;
        OK(vms_session_close(c->f->vms, c->f->session_id, &out));
        status_of(out, c->closed_status, sizeof c->closed_status);
    }
    return 0;
}

static void close_from_the_callback(int whole_handle) {
    struct fixture f = setup(NULL);
    struct closer c;
    char *out = NULL;
    char status[32];
    memset(&c, 0, sizeof c);
    c.f = &f;
    c.whole_handle = whole_handle;
    OK(vms_repl(f.vms, f.session_id, SPIN, close_on_console, &c, &out));
    CHECK_STR(status_of(out, status, sizeof status), "cancelled");
    if (!whole_handle) CHECK_STR(c.closed_status, "closed");
    OK(vms_session_get(f.vms, f.session_id, &out));
    CHECK_STR(status_of(out, status, sizeof status), "closed");
    OK(vms_runtime_summary(f.vms, &out));
    CHECK(strstr(out, "\"active_sessions\":0") != NULL);
    vms_string_free(out);
    FAILS(vms_repl(f.vms, f.session_id, "1", NULL, NULL, NULL), VMS_SESSION_NOT_READY);
    teardown(&f);
}

static void session_close_in_callback(void) { close_from_the_callback(0); }
static void close_in_callback(void) { close_from_the_callback(1); }

/* ---- another thread while the callback blocks ---- */

struct blocker {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int inside, released;
};

static int block_on_console(const char *event_json, void *user_data) {
    struct blocker *b = (struct blocker *)user_data;
    if (!strstr(event_json, "\"type\":\"console\"")) return 0;
    pthread_mutex_lock(&b->lock);
    b->inside = 1;
    pthread_cond_broadcast(&b->cond);
    while (!b->released) pthread_cond_wait(&b->cond, &b->lock);
    pthread_mutex_unlock(&b->lock);
    return 0;
}

struct runner {
    struct fixture *f;
    struct blocker *b;
    char status[32];
};

static void *run_blocked(void *arg) {
    struct runner *r = (struct runner *)arg;
    char *out = NULL;
    OK(vms_repl(r->f->vms, r->f->session_id, SPIN, block_on_console, r->b, &out));
    status_of(out, r->status, sizeof r->status);
    return NULL;
}

static void calls_while_the_callback_blocks(void) {
    struct fixture f = setup(NULL);
    struct blocker b;
    struct runner r;
    pthread_t thread;
    char *running = NULL, *out = NULL;
    char status[32];
    memset(&b, 0, sizeof b);
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.cond, NULL);
    r.f = &f;
    r.b = &b;
    CHECK(pthread_create(&thread, NULL, run_blocked, &r) == 0);
    pthread_mutex_lock(&b.lock);
    while (!b.inside) pthread_cond_wait(&b.cond, &b.lock);
    pthread_mutex_unlock(&b.lock);
    /* Each returns while the callback is still blocked. */
    OK(vms_session_running_execution(f.vms, f.session_id, &running));
    CHECK(running != NULL);
    OK(vms_execution_get(f.vms, running, &out));
    CHECK_STR(status_of(out, status, sizeof status), "running");
    OK(vms_runtime_summary(f.vms, &out));
    vms_string_free(out);
    FAILS(vms_repl(f.vms, f.session_id, "1", NULL, NULL, NULL), VMS_SESSION_BUSY);
    OK(vms_session_close(f.vms, f.session_id, &out));
    CHECK_STR(status_of(out, status, sizeof status), "closed");
    pthread_mutex_lock(&b.lock);
    b.released = 1;
    pthread_cond_broadcast(&b.cond);
    pthread_mutex_unlock(&b.lock);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK_STR(r.status, "cancelled");
    vms_string_free(running);
    teardown(&f);
}

/* ---- closing while a session starts ---- */

struct creator {
    struct fixture *f;
    vms_status code;
};

static void *create_slow(void *arg) {
    struct creator *c = (struct creator *)arg;
    char *out = NULL;
    vms_error_t *err = vms_session_create(c->f->vms, c->f->template_id, "ws", "c", c->f->tree,
                                          NULL, NULL, &out);
    c->code = vms_error_code(err);
    vms_error_free(err);
    vms_string_free(out);
    return NULL;
}

static void close_while_starting(void) {
    struct fixture f = setup(NULL);
    struct creator c;
    pthread_t thread;
    char *out = NULL;
    json *list;
    c.f = &f;
    c.code = VMS_OK;
    write_file(f.tree, "spin.js", SPIN);
    OK(vms_startup_file_add(f.vms, f.template_id, "spin.js", 0, NULL, NULL));
    CHECK(pthread_create(&thread, NULL, create_slow, &c) == 0);
    for (;;) {
        OK(vms_session_list(f.vms, "starting", &out));
        list = take_json(out);
        if (list->len > 0) {
            json_free(list);
            break;
        }
        json_free(list);
        sleep_ms(5);
    }
    sleep_ms(50);
    OK(vms_close(f.vms));
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(c.code == VMS_SESSION_NOT_READY);
    OK(vms_session_list(f.vms, "starting", &out));
    list = take_json(out);
    CHECK(list->len == 0);
    json_free(list);
    OK(vms_runtime_summary(f.vms, &out));
    CHECK(strstr(out, "\"active_sessions\":0") != NULL);
    vms_string_free(out);
    teardown(&f);
}

/* ---- fork ---- */

static void fork_refuses_the_inherited_handle(void) {
    char *dir = make_temp_dir();
    char db[4096];
    struct fixture f;
    int status = 0;
    pid_t pid;
    char *out = NULL;
    char buf[32];
    json *exec;
    snprintf(db, sizeof db, "%s/vm.db", dir);
    f = setup(db);
    exec = repl_ok(f.vms, f.session_id, "var kept = 'parent'");
    json_free(exec);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        vms_t *own = NULL;
        vms_error_t *err = vms_template_list(f.vms, &out);
        CHECK(vms_error_code(err) == VMS_VALIDATION_ERROR);
        CHECK(strstr(vms_error_message(err), "open a new VmSystem") != NULL);
        vms_error_free(err);
        FAILS(vms_repl(f.vms, f.session_id, "1", NULL, NULL, &out), VMS_VALIDATION_ERROR);
        FAILS(vms_session_close(f.vms, f.session_id, &out), VMS_VALIDATION_ERROR);
        FAILS(vms_session_running_execution(f.vms, f.session_id, &out), VMS_VALIDATION_ERROR);
        FAILS(vms_runtime_summary(f.vms, &out), VMS_VALIDATION_ERROR);
        FAILS(vms_close(f.vms), VMS_VALIDATION_ERROR);
        CHECK(out == NULL);
        /* Dropping it touches nothing of the parent's. */
        vms_free(f.vms);
        /* A handle of its own works and sees the parent's session still ready. */
        OK(vms_open(db, &own));
        OK(vms_session_get(own, f.session_id, &out));
        CHECK_STR(status_of(out, buf, sizeof buf), "ready");
        {
            char *mine = new_session(own, f.template_id, f.tree);
            json *e = repl_ok(own, mine, "6 * 7");
            CHECK(exec_value(e) && exec_value(e)->number == 42);
            json_free(e);
            free(mine);
        }
        vms_free(own);
        _exit(0);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    OK(vms_session_get(f.vms, f.session_id, &out));
    CHECK_STR(status_of(out, buf, sizeof buf), "ready");
    exec = repl_ok(f.vms, f.session_id, "kept");
    CHECK(exec_value(exec) && exec_value(exec)->type == JSON_STRING);
    CHECK_STR(exec_value(exec)->string, "parent");
    json_free(exec);
    teardown(&f);
    remove_tree(dir);
}

int main(void) {
    isolated("vms_session_close inside the callback", session_close_in_callback, 20);
    isolated("vms_close inside the callback", close_in_callback, 20);
    isolated("calls while the callback blocks", calls_while_the_callback_blocks, 20);
    isolated("vms_close while a session starts", close_while_starting, 20);
    isolated("fork refuses the inherited handle", fork_refuses_the_inherited_handle, 30);
    printf("test_hosts: ok\n");
    return 0;
}
