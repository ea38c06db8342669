/* Runs a fuzz harness's LLVMFuzzerTestOneInput over files, as ctest does with
 * each harness's checked-in corpus (tests/fuzz/corpus/NAME/): every argument
 * is a file or a directory of files. Fails when an argument cannot be read or
 * holds no file, so an empty or missing corpus is an error, not a pass. A
 * crash or a sanitizer report in the harness fails the test by itself. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  size_t r;
  while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) {
      uint8_t *p = realloc(buf, cap *= 2);
      if (!p) {
        free(buf);
        buf = NULL;
      }
      buf = p;
    }
  }
  int bad = ferror(f) || !buf;
  fclose(f);
  if (bad) {
    fprintf(stderr, "%s: cannot read\n", path);
    free(buf);
    return -1;
  }
  LLVMFuzzerTestOneInput(buf, n);
  free(buf);
  return 0;
}

int main(int argc, char **argv) {
  unsigned files = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) < 0) {
      perror(argv[i]);
      return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (run_file(argv[i]) < 0)
        return 1;
      files++;
      continue;
    }
    struct dirent **ents;
    int n = scandir(argv[i], &ents, NULL, alphasort);
    if (n < 0) {
      perror(argv[i]);
      return 1;
    }
    for (int k = 0; k < n; k++) {
      char path[4096];
      snprintf(path, sizeof(path), "%s/%s", argv[i], ents[k]->d_name);
      struct stat fs;
      if (ents[k]->d_name[0] != '.' && stat(path, &fs) == 0 &&
          S_ISREG(fs.st_mode)) {
        if (run_file(path) < 0)
          return 1;
        files++;
      }
      free(ents[k]);
    }
    free(ents);
  }
  if (files == 0) {
    fprintf(stderr, "no input files (an empty or missing corpus)\n");
    return 1;
  }
  printf("replayed %u inputs\n", files);
  return 0;
}
