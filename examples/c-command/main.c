// c-command: a plain C program that edgehost runs once as a standard
// wasi:cli/command component (POST /v1/run, `edgehost run`). Nothing in it is
// specific to edgehost: arguments, environment and stdin go in, stdout, stderr
// and an exit status come out. Its modes also try each limit of a run.
//
//   c-command [words...]        greets $NAME (or "world"), lists its arguments,
//                               and echoes stdin uppercased with a count
//   c-command --fail            the same, then exits with status 1
//   c-command --spin            loops forever (stopped by the run's deadline)
//   c-command --hog             allocates and touches 1 MiB blocks until malloc
//                               fails (at the run's memory cap), then aborts
//   c-command --flood MB        writes MB megabytes of '.' lines to stdout
//   c-command --cat PATH        prints a file (only under a granted mount)
//
// Build: see README.md.

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int greet(int argc, char **argv) {
  const char *name = getenv("NAME");
  printf("Hello, %s!\n", name && *name ? name : "world");
  printf("args:");
  for (int i = 1; i < argc; i++) printf(" [%s]", argv[i]);
  printf("\n");
  size_t bytes = 0, lines = 0;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
    for (size_t i = 0; i < n; i++) {
      if (buf[i] == '\n') lines++;
      buf[i] = (char)toupper((unsigned char)buf[i]);
    }
    fwrite(buf, 1, n, stdout);
    bytes += n;
  }
  printf("stdin: %zu bytes, %zu lines\n", bytes, lines);
  fprintf(stderr, "c-command: done\n");
  return 0;
}

static int spin(void) {
  volatile unsigned long i = 0;
  for (;;) i++;
  return 0;
}

static int hog(void) {
  // Each block points to the one before, so the compiler cannot drop the allocations.
  char **last = NULL;
  size_t mib = 0;
  for (;;) {
    char **p = malloc(1 << 20);
    if (!p) {
      fprintf(stderr, "c-command: malloc failed after %zu MiB\n", mib);
      abort();
    }
    memset(p, 1, 1 << 20);
    *p = (char *)last;
    last = p;
    mib++;
    if (mib % 1024 == 0) printf("%p\n", (void *)last);
  }
}

static int flood(long megabytes) {
  static char line[1024];
  memset(line, '.', sizeof line - 1);
  line[sizeof line - 1] = '\n';
  for (long i = 0; i < megabytes * 1024; i++) fwrite(line, 1, sizeof line, stdout);
  fprintf(stderr, "c-command: wrote %ld MiB\n", megabytes);
  return 0;
}

static int cat(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "c-command: cannot open %s: %s\n", path, strerror(errno));
    return 1;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
  fclose(f);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--spin") == 0) return spin();
  if (argc > 1 && strcmp(argv[1], "--hog") == 0) return hog();
  if (argc > 2 && strcmp(argv[1], "--flood") == 0) return flood(strtol(argv[2], NULL, 10));
  if (argc > 2 && strcmp(argv[1], "--cat") == 0) return cat(argv[2]);
  if (argc > 1 && strcmp(argv[1], "--fail") == 0) {
    greet(argc, argv);
    return 1;
  }
  return greet(argc, argv);
}
