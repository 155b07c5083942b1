// wc.c: count lines, words and bytes in files, or in standard input when
// no file is named. A word is a run of characters between blanks.
//
//   $ wc README.md
//   $ ls | wc
#include "kernel/types.h"
#include "kernel/fcntl.h"
#include "user/user.h"

static char buf[1024];

static int
is_space(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Count fd's contents and print one line for it. Returns -1 on a read error.
static int
wc(int fd, const char *name)
{
  int lines = 0, words = 0, bytes = 0;
  int inword = 0;   // carried across reads: a word may span two buffers
  int n;
  while((n = read(fd, buf, sizeof(buf))) > 0){
    bytes += n;
    for(int i = 0; i < n; i++){
      if(buf[i] == '\n')
        lines++;
      if(is_space(buf[i])){
        inword = 0;
      } else if(!inword){
        words++;
        inword = 1;
      }
    }
  }
  if(n < 0){
    fprintf(2, "wc: read of %s failed\n", name);
    return -1;
  }
  printf("%d %d %d %s\n", lines, words, bytes, name);
  return 0;
}

int
main(int argc, char *argv[])
{
  if(argc < 2)
    return wc(0, "") < 0;

  int status = 0;
  for(int i = 1; i < argc; i++){
    int fd = open(argv[i], O_RDONLY);
    if(fd < 0){
      fprintf(2, "wc: cannot open %s\n", argv[i]);
      status = 1;
      continue;
    }
    if(wc(fd, argv[i]) < 0)
      status = 1;
    close(fd);
  }
  return status;
}
