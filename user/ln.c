// ln.c: give an existing file a second name (a hard link: both names
// refer to the same inode; `ls` shows the same inode number).
//
//   $ ln README.md readme
#include "kernel/types.h"
#include "user/user.h"

int
main(int argc, char *argv[])
{
  if(argc != 3){
    fprintf(2, "usage: ln old new\n");
    return 1;
  }
  if(link(argv[1], argv[2]) < 0){
    fprintf(2, "ln: linking %s to %s failed\n", argv[2], argv[1]);
    return 1;
  }
  return 0;
}
