// grep.c: print the lines that match a pattern.
//
//   $ grep virtio README.md
//   $ cat README.md | grep ^The.*disk$
//
// Pattern language (a small part of regular expressions):
//   c    any other character matches itself
//   .    matches any one character
//   x*   zero or more of the preceding character or '.'
//   ^    at the very start: the match must begin at the start of the line
//   $    at the very end: the match must end at the end of the line
//
// The pattern is first turned into a list of items (one per character or
// '.', each maybe starred). Matching tries every starting position in the
// line; from a start it walks the items, and a starred item first takes as
// many characters as it can and gives them back one at a time until the
// rest of the pattern matches (backtracking).
//
// Exit status 0 if some line matched, 1 if none did, 2 on errors.
#include "kernel/types.h"
#include "kernel/fcntl.h"
#include "user/user.h"

#define MAXITEMS 128

struct item {
  char c;       // the character to match
  char any;     // '.': any character
  char star;    // followed by '*': zero or more
};

struct pattern {
  struct item item[MAXITEMS];
  int n;
  int at_start; // '^'
  int at_end;   // '$'
};

static int
compile(const char *s, struct pattern *p)
{
  p->n = 0;
  p->at_start = 0;
  p->at_end = 0;
  if(*s == '^'){
    p->at_start = 1;
    s++;
  }
  for(; *s; s++){
    if(*s == '$' && s[1] == 0){
      p->at_end = 1;
      break;
    }
    if(*s == '*' && p->n > 0 && !p->item[p->n - 1].star){
      p->item[p->n - 1].star = 1;
      continue;
    }
    if(p->n == MAXITEMS)
      return -1;
    // A '*' with nothing before it matches a literal '*'.
    struct item it = { *s, *s == '.', 0 };
    p->item[p->n++] = it;
  }
  return 0;
}

static int
item_matches(struct item *it, char c)
{
  return c != 0 && (it->any || it->c == c);
}

// Do items i.. of p match text, starting exactly at text?
static int
match_from(struct pattern *p, int i, const char *text)
{
  for(; i < p->n; i++){
    struct item *it = &p->item[i];
    if(it->star){
      int k = 0;
      while(item_matches(it, text[k]))
        k++;
      for(; k >= 0; k--)          // longest first, then give back
        if(match_from(p, i + 1, text + k))
          return 1;
      return 0;
    }
    if(!item_matches(it, *text))
      return 0;
    text++;
  }
  return !p->at_end || *text == 0;
}

static int
match(struct pattern *p, const char *line)
{
  if(p->at_start)
    return match_from(p, 0, line);
  do {
    if(match_from(p, 0, line))
      return 1;
  } while(*line++ != 0);   // the empty rest of the line is a start too
  return 0;
}

static char buf[1024];

// Print each line of fd that matches. Returns the number of matching lines,
// or -1 on a read error.
static int
grep(struct pattern *p, int fd, const char *prefix)
{
  int have = 0, found = 0, n;
  while((n = read(fd, buf + have, sizeof(buf) - 1 - have)) > 0){
    have += n;
    buf[have] = 0;
    char *line = buf;
    char *nl;
    while((nl = strchr(line, '\n')) != 0){
      *nl = 0;
      if(match(p, line)){
        *nl = '\n';
        if(prefix)
          printf("%s:", prefix);
        write(1, line, nl + 1 - line);
        found++;
      }
      line = nl + 1;
    }
    have -= line - buf;
    if(have == sizeof(buf) - 1){
      // A line longer than the buffer: treat the part we have as a line.
      if(match(p, buf)){
        if(prefix)
          printf("%s:", prefix);
        printf("%s\n", buf);
        found++;
      }
      have = 0;
    } else if(line != buf){
      memmove(buf, line, have);
    }
  }
  if(n < 0)
    return -1;
  if(have > 0){
    buf[have] = 0;   // last line without a newline
    if(match(p, buf)){
      if(prefix)
        printf("%s:", prefix);
      printf("%s\n", buf);
      found++;
    }
  }
  return found;
}

int
main(int argc, char *argv[])
{
  static struct pattern pat;
  if(argc < 2){
    fprintf(2, "usage: grep pattern [file ...]\n");
    return 2;
  }
  if(compile(argv[1], &pat) < 0){
    fprintf(2, "grep: pattern too long\n");
    return 2;
  }
  if(argc == 2)
    return grep(&pat, 0, 0) > 0 ? 0 : 1;

  int found = 0, errors = 0;
  for(int i = 2; i < argc; i++){
    int fd = open(argv[i], O_RDONLY);
    if(fd < 0){
      fprintf(2, "grep: cannot open %s\n", argv[i]);
      errors = 1;
      continue;
    }
    int r = grep(&pat, fd, argc > 3 ? argv[i] : 0);
    close(fd);
    if(r < 0){
      fprintf(2, "grep: read of %s failed\n", argv[i]);
      errors = 1;
    } else {
      found += r;
    }
  }
  if(errors)
    return 2;
  return found > 0 ? 0 : 1;
}
