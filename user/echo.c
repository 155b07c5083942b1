// echo.c: print the arguments, separated by single spaces, and a newline.
//
//   $ echo hello world
//   hello world
#include "kernel/types.h"
#include "user/user.h"

static char line[2048];

int
main(int argc, char *argv[])
{
  // Build the line and write it with one call, so that it stays whole when
  // other programs write to the console at the same time. A line too long
  // for the buffer goes out in pieces.
  int n = 0;
  for(int i = 1; i < argc; i++){
    char *sep = (i + 1 < argc) ? " " : "\n";
    for(char *s = argv[i]; ; s++){
      if(n == sizeof(line)){
        if(write(1, line, n) != n)
          return 1;
        n = 0;
      }
      if(*s == 0){
        line[n++] = *sep;
        break;
      }
      line[n++] = *s;
    }
  }
  if(argc < 2)
    line[n++] = '\n';
  if(write(1, line, n) != n)
    return 1;
  return 0;
}
