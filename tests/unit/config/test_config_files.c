/* Table of config files: every tests/data/config/bad/NAME.yaml must fail with exactly the
 * lines in NAME.expected (positions name the file as given: "NAME.yaml"), and every
 * tests/data/config/good/NAME.yaml must load without a problem. Files are loaded with
 * the fake registry, from inside their directory. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_components.h"
#include "tg_config_internal.h"

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of *.yaml in dir (caller frees). */
static size_t list_yaml(const char *dir, char ***out) {
  DIR *d = opendir(dir);
  if (!d)
    fail_msg("cannot open %s", dir);
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len < 6 || strcmp(e->d_name + len - 5, ".yaml"))
      continue;
    names = realloc(names, (n + 1) * sizeof *names);
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_str);
  *out = names;
  return n;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    fail_msg("cannot read %s", path);
  static char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  return buf;
}

static void enter(const char *sub) {
  const char *data = getenv("TG_TEST_DATA");
  if (!data)
    fail_msg("TG_TEST_DATA is not set");
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/config/%s", data, sub);
  if (chdir(dir) != 0)
    fail_msg("cannot enter %s", dir);
}

/* Every NAME.yaml in sub must fail with exactly the lines of NAME.expected. */
static void check_bad_files(const char *sub, const tg_component *const *registry,
                            size_t at_least) {
  unsetenv("TG_TEST_UNSET");
  setenv("TG_TEST_SET", "set", 1);
  enter(sub);
  char **names;
  size_t n = list_yaml(".", &names);
  assert_true(n >= at_least);
  int failures = 0;
  for (size_t i = 0; i < n; i++) {
    char expected_path[512];
    snprintf(expected_path, sizeof expected_path, "%.*s.expected",
             (int)(strlen(names[i]) - 5), names[i]);
    tg_diag d;
    tg_diag_init(&d);
    tg_config *cfg = tg_config_load_file_with_registry(names[i], registry, &d);
    const char *got = fake_diag_text(&d);
    const char *want = slurp(expected_path);
    if (cfg || strcmp(got, want)) {
      printf("%s: expected\n%s--- got\n%s---\n", names[i], want, got);
      failures++;
    }
    tg_config_free(cfg);
    tg_diag_free(&d);
    free(names[i]);
  }
  free(names);
  assert_int_equal(failures, 0);
}

static void test_bad_files(void **state) {
  (void)state;
  check_bad_files("bad", fake_registry, 10);
}

/* The same with tailgate's real components: their key tables and checks. */
static void test_bad_files_real_components(void **state) {
  (void)state;
  check_bad_files("bad-real", tg_registry, 4);
}

static void test_good_files(void **state) {
  (void)state;
  setenv("TG_TEST_SET", "set", 1);
  enter("good");
  char **names;
  size_t n = list_yaml(".", &names);
  assert_true(n >= 3);
  int failures = 0;
  for (size_t i = 0; i < n; i++) {
    tg_diag d;
    tg_diag_init(&d);
    tg_config *cfg = tg_config_load_file_with_registry(names[i], fake_registry, &d);
    if (!cfg) {
      printf("%s:\n%s", names[i], fake_diag_text(&d));
      failures++;
    }
    tg_config_free(cfg);
    tg_diag_free(&d);
    free(names[i]);
  }
  free(names);
  assert_int_equal(failures, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_files),
      cmocka_unit_test(test_bad_files_real_components),
      cmocka_unit_test(test_good_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
