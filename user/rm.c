// rm.c: remove names from the file system (unlink). A file's data is
// freed when its last name is gone and no process has it open. A
// directory can be removed only when it is empty.
//
//   $ rm old.txt
#include "kernel/types.h"
#include "user/user.h"

int
main(int argc, char *argv[])
{
  if(argc < 2){
    fprintf(2, "usage: rm file...\n");
    return 1;
  }
  int status = 0;
  for(int i = 1; i < argc; i++){
    if(unlink(argv[i]) < 0){
      fprintf(2, "rm: unlinking %s failed\n", argv[i]);
      status = 1;
    }
  }
  return status;
}
