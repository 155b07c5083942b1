// mkdir.c: make directories.
//
//   $ mkdir notes
//   $ mkdir notes/old
#include "kernel/types.h"
#include "user/user.h"

int
main(int argc, char *argv[])
{
  if(argc < 2){
    fprintf(2, "usage: mkdir dir...\n");
    return 1;
  }
  int status = 0;
  for(int i = 1; i < argc; i++){
    if(mkdir(argv[i]) < 0){
      fprintf(2, "mkdir: creating %s failed\n", argv[i]);
      status = 1;
    }
  }
  return status;
}
