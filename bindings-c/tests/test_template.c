/* Templates: create/get/list/delete, settings, startup files, capabilities, modules,
 * libraries, the catalogs, and persistence in a database file. */
#include "check.h"

static void test_version(void) {
    const char *v = vms_version();
    CHECK(v != NULL && strlen(v) >= 5);
    CHECK(strchr(v, '.') != NULL);
}

static void test_create_get_list_delete(void) {
    vms_t *vms = open_memory();
    char *out = NULL;
    json *t, *detail, *list;
    char *id;

    OK(vms_template_create(vms, "first", "quickjs", &out));
    t = take_json(out);
    CHECK_STR(json_str(t, "name"), "first");
    CHECK_STR(json_str(t, "engine"), "quickjs");
    CHECK(json_str(t, "created_at") != NULL && json_str(t, "updated_at") != NULL);
    id = dup_str(t, "id");
    CHECK(strlen(id) == 36);
    json_free(t);

    OK(vms_template_get(vms, id, &out));
    detail = take_json(out);
    CHECK_STR(json_str(detail, "id"), id);
    CHECK_STR(json_str(detail, "name"), "first");
    CHECK(json_get(json_get(json_get(detail, "settings"), "limits"), "cpu_ms")->number == 5000);
    CHECK(json_get(json_get(json_get(detail, "settings"), "limits"), "max_output_kb")->number == 512);
    CHECK(json_get(json_get(json_get(detail, "settings"), "runtime"), "console")->boolean == 1);
    CHECK(json_get(detail, "startup_files")->len == 0);
    CHECK(json_get(detail, "capabilities")->type == JSON_ARRAY);
    CHECK(json_get(detail, "modules")->type == JSON_ARRAY);
    CHECK(json_get(detail, "libraries")->type == JSON_ARRAY);
    json_free(detail);

    free(new_template(vms, "second"));
    OK(vms_template_list(vms, &out));
    list = take_json(out);
    CHECK(list->type == JSON_ARRAY && list->len == 2);
    CHECK_STR(json_str(&list->items[0], "name"), "first");
    CHECK_STR(json_str(&list->items[1], "name"), "second");
    json_free(list);

    OK(vms_template_delete(vms, id));
    FAILS(vms_template_get(vms, id, &out), VMS_TEMPLATE_NOT_FOUND);
    FAILS(vms_template_delete(vms, id), VMS_TEMPLATE_NOT_FOUND);
    FAILS(vms_template_create(vms, "x", "v8", &out), VMS_VALIDATION_ERROR);
    FAILS(vms_template_create(vms, "", NULL, &out), VMS_VALIDATION_ERROR);
    free(id);
    vms_free(vms);
}

static void test_settings(void) {
    vms_t *vms = open_memory();
    char *id = new_template(vms, "settings");
    char *out = NULL;
    json *settings;

    OK(vms_settings_update(vms, id, "{\"limits\": {\"cpu_ms\": 100}, \"runtime\": {\"strict\": true}}",
                           &out));
    settings = take_json(out);
    CHECK(json_get(json_get(settings, "limits"), "cpu_ms")->number == 100);
    CHECK(json_get(json_get(settings, "limits"), "wall_ms")->number == 30000);
    CHECK(json_get(json_get(settings, "runtime"), "strict")->boolean == 1);
    json_free(settings);

    /* out may be NULL to discard the result */
    OK(vms_settings_update(vms, id, "{\"resolver\": {\"roots\": [\"lib\"]}}", NULL));
    OK(vms_template_get(vms, id, &out));
    settings = take_json(out);
    CHECK_STR(json_get(json_get(json_get(settings, "settings"), "resolver"), "roots")->items[0].string,
              "lib");
    json_free(settings);

    FAILS(vms_settings_update(vms, id, "{\"limits\": {\"cpu_ms\": -5}}", NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_settings_update(vms, id, "{\"limits\": ", NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_settings_update(vms, id, NULL, NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_settings_update(vms, "nope", "{}", NULL), VMS_TEMPLATE_NOT_FOUND);
    free(id);
    vms_free(vms);
}

static void test_startup_files(void) {
    vms_t *vms = open_memory();
    char *id = new_template(vms, "startup");
    char *out = NULL;
    json *file, *list;

    OK(vms_startup_file_add(vms, id, "runtime/late.js", 20, NULL, &out));
    file = take_json(out);
    CHECK_STR(json_str(file, "path"), "runtime/late.js");
    CHECK(json_get(file, "order_index")->number == 20);
    CHECK_STR(json_str(file, "mode"), "eval");
    json_free(file);
    OK(vms_startup_file_add(vms, id, "runtime/early.mjs", 10, "module", NULL));

    OK(vms_startup_file_list(vms, id, &out));
    list = take_json(out);
    CHECK(list->len == 2);
    CHECK_STR(json_str(&list->items[0], "path"), "runtime/early.mjs");
    CHECK_STR(json_str(&list->items[0], "mode"), "module");
    CHECK_STR(json_str(&list->items[1], "path"), "runtime/late.js");
    json_free(list);

    OK(vms_startup_file_remove(vms, id, "runtime/late.js"));
    OK(vms_startup_file_list(vms, id, &out));
    list = take_json(out);
    CHECK(list->len == 1);
    json_free(list);

    FAILS(vms_startup_file_add(vms, id, "/etc/passwd", 0, NULL, NULL), VMS_INVALID_PATH);
    FAILS(vms_startup_file_add(vms, id, "../up.js", 0, NULL, NULL), VMS_INVALID_PATH);
    FAILS(vms_startup_file_add(vms, id, "a.js", 0, "commonjs", NULL), VMS_STARTUP_MODE_UNSUPPORTED);
    FAILS(vms_startup_file_add(vms, "nope", "a.js", 0, NULL, NULL), VMS_TEMPLATE_NOT_FOUND);
    free(id);
    vms_free(vms);
}

static void test_capabilities(void) {
    vms_t *vms = open_memory();
    char *id = new_template(vms, "caps");
    char *out = NULL;
    json *cap, *list;

    OK(vms_capability_add(vms, id, "fs", "read", true, "{\"root\": \"data\"}", &out));
    cap = take_json(out);
    CHECK_STR(json_str(cap, "kind"), "fs");
    CHECK_STR(json_str(cap, "name"), "read");
    CHECK(json_get(cap, "enabled")->boolean == 1);
    CHECK_STR(json_str(json_get(cap, "config"), "root"), "data");
    json_free(cap);
    OK(vms_capability_add(vms, id, "net", "fetch", false, NULL, NULL));

    OK(vms_capability_list(vms, id, &out));
    list = take_json(out);
    CHECK(list->len == 2);
    CHECK_STR(json_str(&list->items[1], "kind"), "net");
    CHECK(json_get(&list->items[1], "enabled")->boolean == 0);
    CHECK(json_get(&list->items[1], "config")->type == JSON_OBJECT);
    json_free(list);

    FAILS(vms_capability_add(vms, id, "teleport", "x", true, NULL, NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_capability_add(vms, id, "fs", "x", true, "{bad json}", NULL), VMS_VALIDATION_ERROR);
    free(id);
    vms_free(vms);
}

static void test_modules(void) {
    vms_t *vms = open_memory();
    char *id = new_template(vms, "modules");
    char *out = NULL;
    json *list;
    size_t i;
    int has_fs = 0;

    OK(vms_modules_available(vms, &out));
    list = take_json(out);
    CHECK(list->type == JSON_ARRAY && list->len >= 1);
    for (i = 0; i < list->len; i++) {
        CHECK(json_str(&list->items[i], "name") != NULL);
        if (strcmp(json_str(&list->items[i], "name"), "fs") == 0) has_fs = 1;
    }
    CHECK(has_fs);
    json_free(list);

    OK(vms_module_add(vms, id, "fs"));
    OK(vms_module_add(vms, id, "database"));
    OK(vms_module_list(vms, id, &out));
    list = take_json(out);
    CHECK(list->len == 2);
    CHECK_STR(list->items[0].string, "database");
    CHECK_STR(list->items[1].string, "fs");
    json_free(list);

    OK(vms_module_remove(vms, id, "database"));
    OK(vms_module_list(vms, id, &out));
    list = take_json(out);
    CHECK(list->len == 1);
    json_free(list);

    FAILS(vms_module_add(vms, id, "console"), VMS_MODULE_NOT_ALLOWED);
    FAILS(vms_module_add(vms, id, "JSON"), VMS_MODULE_NOT_ALLOWED);
    FAILS(vms_module_add(vms, id, "left-pad"), VMS_MODULE_NOT_ALLOWED);
    free(id);
    vms_free(vms);
}

static void test_libraries(void) {
    char *cache = make_temp_dir();
    char *bogus = make_temp_dir();
    vms_t *vms = NULL;
    char *id, *out = NULL;
    json *list;
    char path[4096];

    OK(vms_open_with(NULL, cache, &vms));
    OK(vms_library_cache(vms, &out));
    CHECK_STR(out, cache);
    vms_string_free(out);

    id = new_template(vms, "libraries");
    OK(vms_libraries_available(vms, &out));
    list = take_json(out);
    CHECK(list->len >= 6);
    CHECK_STR(json_str(&list->items[0], "name"), "lodash-4.17.21");
    CHECK(json_str(&list->items[0], "sha256") != NULL);
    json_free(list);

    OK(vms_library_add(vms, id, "lodash-4.17.21"));
    OK(vms_library_add(vms, id, "dayjs-1.11.10"));
    OK(vms_library_list(vms, id, &out));
    list = take_json(out);
    CHECK(list->len == 2);
    CHECK_STR(list->items[0].string, "dayjs-1.11.10");
    json_free(list);
    OK(vms_library_remove(vms, id, "dayjs-1.11.10"));
    OK(vms_library_list(vms, id, &out));
    list = take_json(out);
    CHECK(list->len == 1);
    json_free(list);
    FAILS(vms_library_add(vms, id, "jquery-3.0.0"), VMS_VALIDATION_ERROR);

    OK(vms_libraries_installed(vms, &out));
    list = take_json(out);
    CHECK(list->type == JSON_ARRAY && list->len == 0);
    json_free(list);

    /* a local file whose checksum does not match the catalog is refused */
    write_file(bogus, "lodash.js", "not lodash");
    snprintf(path, sizeof path, "%s/lodash.js", bogus);
    FAILS(vms_library_install(vms, "lodash-4.17.21", path, NULL), VMS_VALIDATION_ERROR);
    FAILS(vms_library_install(vms, "nope-1.0.0", path, &out), VMS_VALIDATION_ERROR);

    free(id);
    vms_free(vms);
    remove_tree(bogus);
    remove_tree(cache);
}

static void test_file_database(void) {
    char *dir = make_temp_dir();
    char db[4096];
    vms_t *vms = NULL;
    char *id, *out = NULL;
    json *t;

    snprintf(db, sizeof db, "%s/vm.db", dir);
    OK(vms_open(db, &vms));
    id = new_template(vms, "persisted");
    OK(vms_startup_file_add(vms, id, "init.js", 0, "eval", NULL));
    vms_free(vms);

    vms = NULL;
    OK(vms_open(db, &vms));
    OK(vms_template_get(vms, id, &out));
    t = take_json(out);
    CHECK_STR(json_str(t, "name"), "persisted");
    CHECK(json_get(t, "startup_files")->len == 1);
    json_free(t);
    free(id);
    vms_free(vms);
    remove_tree(dir);
}

int main(void) {
    test_version();
    test_create_get_list_delete();
    test_settings();
    test_startup_files();
    test_capabilities();
    test_modules();
    test_libraries();
    test_file_database();
    printf("test_template: ok\n");
    return 0;
}
