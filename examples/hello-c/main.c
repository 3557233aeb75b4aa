// hello-c: a plain C program that edgehost runs as a standard wasi:cli/command
// component. It shows every part of the run-once contract: arguments in,
// environment (only what was granted), stdin in, stdout and stderr out, and an
// exit code. Build: see README.md (or `node scripts/build-examples.ts`).
//
//   hello-c [--exit N] [--return N] [--fill N] [words...]
//
// stdout:  Hello, <$HELLO_NAME or "world">!
//          args: <count> [arg1] [arg2] ...
//          stdin: <bytes> bytes, <lines> lines
//          <stdin, uppercased>
//          then, with --fill N, N bytes of '.' and a newline
// stderr:  hello-c: exiting with <code>
// exit:    --exit N exits with code N (0-255) through wasi:cli/exit's exit-with-code;
//          --return N returns N from main instead, which the standard preview1
//          adapter can only report as "error" (code 1).

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// wasi-libc's exit() goes through the preview1 adapter, which reports any
// non-zero status as plain `err` (exit code 1). A program that wants its exact
// code calls wasi:cli/exit#exit-with-code itself; wit/world.wit declares the import.
__attribute__((import_module("wasi:cli/exit@0.2.12"), import_name("exit-with-code"), noreturn))
extern void wasi_cli_exit_with_code(int32_t status_code);

static void exit_with_code(int code) {
  fflush(NULL); // stdio buffers are ours: write them out before the component stops
  wasi_cli_exit_with_code(code);
}

static int parse_code(const char *flag, const char *text, long max) {
  char *end = NULL;
  long n = text ? strtol(text, &end, 10) : -1;
  if (!text || *text == '\0' || *end != '\0' || n < 0 || n > max) {
    fprintf(stderr, "hello-c: %s needs a number from 0 to %ld\n", flag, max);
    exit_with_code(2);
  }
  return (int)n;
}

int main(int argc, char **argv) {
  int exit_code = -1;
  int return_code = 0;
  long fill = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--exit") == 0) exit_code = parse_code("--exit", argv[++i], 255);
    else if (strcmp(argv[i], "--return") == 0) return_code = parse_code("--return", argv[++i], 255);
    else if (strcmp(argv[i], "--fill") == 0) fill = parse_code("--fill", argv[++i], 1L << 30);
  }

  const char *name = getenv("HELLO_NAME");
  printf("Hello, %s!\n", name && *name ? name : "world");

  printf("args: %d", argc > 0 ? argc - 1 : 0); // argv[0], the program name, is not counted
  for (int i = 1; i < argc; i++) printf(" [%s]", argv[i]);
  putchar('\n');

  size_t len = 0, cap = 4096, lines = 0;
  unsigned char *in = malloc(cap);
  size_t n;
  while (in && (n = fread(in + len, 1, cap - len, stdin)) > 0) {
    len += n;
    if (len == cap) in = realloc(in, cap *= 2);
  }
  if (!in) {
    fputs("hello-c: out of memory reading stdin\n", stderr);
    exit_with_code(2);
  }
  for (size_t i = 0; i < len; i++) {
    if (in[i] == '\n') lines++;
    in[i] = (unsigned char)toupper(in[i]);
  }
  printf("stdin: %zu bytes, %zu lines\n", len, lines);
  fwrite(in, 1, len, stdout);
  free(in);

  if (fill > 0) {
    char dots[4096];
    memset(dots, '.', sizeof dots);
    for (long left = fill; left > 0; left -= (long)sizeof dots) fwrite(dots, 1, left < (long)sizeof dots ? (size_t)left : sizeof dots, stdout);
    putchar('\n');
  }

  int code = exit_code >= 0 ? exit_code : return_code;
  fprintf(stderr, "hello-c: exiting with %d\n", code);
  if (exit_code >= 0) exit_with_code(exit_code);
  return return_code;
}
