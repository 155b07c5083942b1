// ls.c: list files. For a directory, one line per entry; for anything
// else, one line for the thing itself. With no arguments, lists ".".
//
//   $ ls
//   $ ls / README.md
//
// Each line: name, type (dir, file or dev), inode number, size in bytes.
// A directory is an ordinary file of struct dirent records (kernel/fs.h):
// ls reads it with read() like any file and skips free slots (inum 0).
#include "kernel/types.h"
#include "kernel/param.h"
#include "kernel/stat.h"
#include "kernel/fs.h"
#include "kernel/fcntl.h"
#include "user/user.h"

static const char*
typename(int type)
{
  switch(type){
  case T_DIR:    return "dir";
  case T_FILE:   return "file";
  case T_DEVICE: return "dev";
  }
  return "?";
}

static void
show(const char *name, struct stat *st)
{
  printf("%-14s %-4s %5u %7lu\n", name, typename(st->type), st->ino, st->size);
}

// List the entries of the directory open as fd, whose path is dir.
static int
list_dir(int fd, const char *dir)
{
  char path[MAXPATH];
  struct dirent de;
  int dlen = strlen(dir);
  if(dlen + 1 + DIRSIZ + 1 > sizeof(path)){
    fprintf(2, "ls: path too long: %s\n", dir);
    return -1;
  }
  strcpy(path, dir);
  path[dlen] = '/';
  char *name = path + dlen + 1;

  int status = 0;
  while(read(fd, &de, sizeof(de)) == sizeof(de)){
    if(de.inum == 0)
      continue;
    // A name of exactly DIRSIZ characters has no terminating 0 on disk.
    memmove(name, de.name, DIRSIZ);
    name[DIRSIZ] = 0;
    struct stat st;
    if(stat(path, &st) < 0){
      fprintf(2, "ls: cannot stat %s\n", path);
      status = -1;
      continue;
    }
    show(name, &st);
  }
  return status;
}

static int
ls(const char *path)
{
  int fd = open(path, O_RDONLY);
  if(fd < 0){
    fprintf(2, "ls: cannot open %s\n", path);
    return -1;
  }
  struct stat st;
  int status = 0;
  if(fstat(fd, &st) < 0){
    fprintf(2, "ls: cannot stat %s\n", path);
    status = -1;
  } else if(st.type == T_DIR){
    status = list_dir(fd, path);
  } else {
    show(path, &st);
  }
  close(fd);
  return status;
}

int
main(int argc, char *argv[])
{
  if(argc < 2)
    return ls(".") < 0;
  int status = 0;
  for(int i = 1; i < argc; i++)
    if(ls(argv[i]) < 0)
      status = 1;
  return status;
}
