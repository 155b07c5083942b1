// sh.c: the shell. Reads command lines from standard input, one at a time,
// parses each into a tree and runs it. Prints the prompt "$ " (on standard
// error) only when standard input is the console; exits at end of input.
//
//   $ echo hello > greeting            redirect output (">>" appends)
//   $ cat < greeting | grep ell | wc   pipes
//   $ mkdir d ; cd d ; ls              sequences; cd is built in
//   $ forktest &                       run in the background
//   $ (echo a ; echo b) > two          a subshell with its own redirection
//   $ echo "a  quoted ; word"          quotes keep spaces and symbols
//   $ echo 'a  b' "say \"hi\"" c\ d    three words: a  b, say "hi", c d
//   $ exit                             leave (init starts a new shell)
//
// The grammar, parsed by one function per rule (recursive descent):
//
//   line      = list END
//   list      = [ pipeline { sep pipeline } [ sep ] ]
//   sep       = ";" | "&"               "&" runs the pipeline before it
//                                       in the background
//   pipeline  = command { "|" command }
//   command   = "(" list ")" { redirect }      a subshell
//             | ( WORD | redirect ) { WORD | redirect }
//   redirect  = ( "<" | ">" | ">>" ) WORD
//
// A WORD is a run of characters other than blanks and the symbols
// < > | ; & ( ), in which quoting (POSIX sh, XCU 2.2) makes any character
// an ordinary one:
//   'text'   everything up to the next ' stands for itself (no escapes)
//   "text"   the same up to the next ", except that \" and \\ stand for
//            " and \ (any other backslash stays as it is)
//   \c       outside quotes: the character c itself
// Quoted and unquoted pieces join into one word: a'b c'd is the single
// argument "ab cd", and '' is an empty argument. A quote that is never
// closed is an error and nothing on the line runs.
// An unquoted '#' at the start of a word begins a comment to the end of
// the line.
//
// How it runs (each arrow is a fork): for each pipeline of the list the
// shell forks a child and, unless the pipeline ends in "&", waits for it.
// The child runs the pipeline: for "a | b" it makes a pipe and forks one
// process per side, with the pipe as the left one's standard output and
// the right one's standard input. A command applies its redirections to
// its own descriptors 0 and 1 and then calls exec. A background pipeline is
// run by a grandchild whose parent exits at once, so init (not the shell)
// collects it when it ends.
//
// See it run: `make qemu`, then type commands at the "$ " prompt.
#include "kernel/types.h"
#include "kernel/stat.h"
#include "kernel/fcntl.h"
#include "kernel/param.h"
#include "user/user.h"

#define LINEMAX   512   // longest command line
#define NCMD      64    // tree nodes per line
#define NREDIR    4     // redirections per command
#define NWORDARGS (MAXARG - 1)   // words per command; exec needs a 0 after them

// ---------------------------------------------------------------------
// The command tree.

enum kind { EXEC, SUBSHELL, PIPE, LIST };

struct redir {
  int fd;         // 0 for "<", 1 for ">" and ">>"
  int mode;       // open() mode
  int append;     // ">>": start writing at the end of the file
  char *file;
};

struct cmd {
  enum kind kind;
  // EXEC: the words.  SUBSHELL: body is the list inside the parentheses.
  // PIPE: left | right.  LIST: item, then next (the rest of the list, or 0).
  char *argv[NWORDARGS + 1];
  int argc;
  struct redir redir[NREDIR];   // EXEC and SUBSHELL
  int nredir;
  struct cmd *body, *left, *right, *item, *next;
  int background;               // LIST: item was followed by "&"
};

// Each line's tree and words live in static storage that is reset for
// every line: nothing to free, and a child process gets its own copy
// with fork.
static struct cmd cmdpool[NCMD];
static int ncmd;
static char wordbuf[LINEMAX * 2];
static int nword;

static struct cmd*
newcmd(enum kind kind)
{
  if(ncmd == NCMD)
    return 0;
  struct cmd *c = &cmdpool[ncmd++];
  memset(c, 0, sizeof(*c));
  c->kind = kind;
  return c;
}

// ---------------------------------------------------------------------
// The lexer: turns the line into tokens, one token of lookahead.

enum tok { T_WORD, T_LT, T_GT, T_APPEND, T_PIPE, T_SEMI, T_AMP,
           T_LPAREN, T_RPAREN, T_END, T_BADQUOTE };

static char *pos;        // next unread character of the line
static enum tok tok;     // the current token
static char *tokword;    // its text, for T_WORD
static char *tokstart;   // where it started in the line, for error messages

static int
is_blank(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v';
}

static int
is_symbol(char c)
{
  return strchr("<>|;&()", c) != 0;
}

static char openquote;   // for T_BADQUOTE: the quote that was not closed

// Copy the quoted text after an opening quote q (at pos) into the word,
// and step past the closing quote. Returns 0 if the line ends first.
static int
lexquoted(char q)
{
  pos++;
  while(*pos && *pos != q){
    // In double quotes a backslash protects only " and \ (XCU 2.2.3).
    if(q == '"' && *pos == '\\' && (pos[1] == '"' || pos[1] == '\\'))
      pos++;
    wordbuf[nword++] = *pos++;
  }
  if(*pos != q){
    openquote = q;
    return 0;
  }
  pos++;
  return 1;
}

// Read a word into wordbuf, without its quotes (the rules are at the top
// of this file). Returns 0 if a quote is not closed. The word is never
// longer than its text in the line, so wordbuf cannot overflow.
static int
lexword(void)
{
  tokword = &wordbuf[nword];
  while(*pos && !is_blank(*pos) && !is_symbol(*pos)){
    if(*pos == '\'' || *pos == '"'){
      if(!lexquoted(*pos))
        return 0;
    } else if(*pos == '\\' && pos[1] != 0 && pos[1] != '\n'){
      // Outside quotes a backslash makes the next character ordinary; one
      // at the very end of the line has nothing to protect and stays.
      pos++;
      wordbuf[nword++] = *pos++;
    } else {
      wordbuf[nword++] = *pos++;
    }
  }
  wordbuf[nword++] = 0;
  return 1;
}

static void
advance(void)
{
  while(is_blank(*pos))
    pos++;
  tokstart = pos;
  switch(*pos){
  case 0:
  case '#':
    tok = T_END;
    return;
  case '<': tok = T_LT; break;
  case '|': tok = T_PIPE; break;
  case ';': tok = T_SEMI; break;
  case '&': tok = T_AMP; break;
  case '(': tok = T_LPAREN; break;
  case ')': tok = T_RPAREN; break;
  case '>':
    if(pos[1] == '>'){
      pos += 2;
      tok = T_APPEND;
      return;
    }
    tok = T_GT;
    break;
  default:
    tok = lexword() ? T_WORD : T_BADQUOTE;
    return;
  }
  pos++;   // the one-character symbols
}

// ---------------------------------------------------------------------
// The parser: one function per grammar rule. Each returns the tree it
// built, or 0 after reporting a syntax error.

static struct cmd *parse_list(void);

static void
syntax_error(void)
{
  if(tok == T_END)
    fprintf(2, "sh: syntax error: unexpected end of line\n");
  else if(tok == T_BADQUOTE)
    fprintf(2, "sh: syntax error: missing closing %c quote\n", openquote);
  else
    fprintf(2, "sh: syntax error near '%c'\n", *tokstart);
}

static int
starts_command(void)
{
  return tok == T_WORD || tok == T_LPAREN ||
         tok == T_LT || tok == T_GT || tok == T_APPEND;
}

// redirect = ( "<" | ">" | ">>" ) WORD
static int
parse_redirect(struct cmd *c)
{
  struct redir r;
  r.append = 0;
  if(tok == T_LT){
    r.fd = 0;
    r.mode = O_RDONLY;
  } else {
    r.fd = 1;
    if(tok == T_GT){
      r.mode = O_WRONLY | O_CREATE | O_TRUNC;
    } else {
      // O_RDWR: the file is read to its end before writing starts (there
      // is no O_APPEND and no seek).
      r.mode = O_RDWR | O_CREATE;
      r.append = 1;
    }
  }
  advance();
  if(tok != T_WORD){
    syntax_error();
    return 0;
  }
  if(c->nredir == NREDIR){
    fprintf(2, "sh: too many redirections\n");
    return 0;
  }
  r.file = tokword;
  c->redir[c->nredir++] = r;
  advance();
  return 1;
}

// command = "(" list ")" { redirect }  |  ( WORD | redirect ) { WORD | redirect }
static struct cmd*
parse_command(void)
{
  struct cmd *c;
  if(tok == T_LPAREN){
    advance();
    if((c = newcmd(SUBSHELL)) == 0 || (c->body = parse_list()) == 0)
      return 0;
    if(tok != T_RPAREN){
      syntax_error();
      return 0;
    }
    advance();
    while(tok == T_LT || tok == T_GT || tok == T_APPEND)
      if(!parse_redirect(c))
        return 0;
    return c;
  }

  if((c = newcmd(EXEC)) == 0)
    return 0;
  while(tok == T_WORD || tok == T_LT || tok == T_GT || tok == T_APPEND){
    if(tok != T_WORD){
      if(!parse_redirect(c))
        return 0;
      continue;
    }
    if(c->argc == NWORDARGS){
      fprintf(2, "sh: too many arguments\n");
      return 0;
    }
    c->argv[c->argc++] = tokword;
    advance();
  }
  if(c->argc == 0 && c->nredir == 0){
    syntax_error();
    return 0;
  }
  return c;
}

// pipeline = command { "|" command }, built as a right-leaning tree:
// a | b | c  is  PIPE(a, PIPE(b, c)).
static struct cmd*
parse_pipeline(void)
{
  struct cmd *left = parse_command();
  if(left == 0 || tok != T_PIPE)
    return left;
  advance();
  struct cmd *p = newcmd(PIPE);
  if(p == 0 || (p->right = parse_pipeline()) == 0)
    return 0;
  p->left = left;
  return p;
}

// list = [ pipeline { sep pipeline } [ sep ] ]. Returns a chain of LIST
// nodes; an empty list is one LIST node with no item.
static struct cmd*
parse_list(void)
{
  struct cmd *head = newcmd(LIST);
  struct cmd *l = head;
  if(head == 0)
    return 0;
  while(starts_command()){
    if(l->item != 0){
      if((l->next = newcmd(LIST)) == 0)
        return 0;
      l = l->next;
    }
    if((l->item = parse_pipeline()) == 0)
      return 0;
    if(tok != T_SEMI && tok != T_AMP)
      break;
    l->background = (tok == T_AMP);
    advance();
  }
  return head;
}

// line = list END
static struct cmd*
parse_line(char *line)
{
  ncmd = 0;
  nword = 0;
  pos = line;
  advance();
  struct cmd *c = parse_list();
  if(c != 0 && tok != T_END){
    syntax_error();
    return 0;
  }
  if(c == 0 && ncmd == NCMD)
    fprintf(2, "sh: command line too complex\n");
  return c;
}

// ---------------------------------------------------------------------
// Running the tree.

static int run_list(struct cmd *list);

// Wait for one particular child; other children that end meanwhile are
// collected too. Returns the child's exit status.
static int
wait_for(int pid)
{
  for(;;){
    int status;
    int w = wait(&status);
    if(w == pid)
      return status;
    if(w < 0)
      return -1;
  }
}

static int
forkorfail(void)
{
  int pid = fork();
  if(pid < 0)
    fprintf(2, "sh: fork failed\n");
  return pid;
}

// Make descriptor r->fd refer to r->file. open() returns the lowest free
// descriptor, so closing r->fd first makes the file land on it.
static int
apply_redirect(struct redir *r)
{
  close(r->fd);
  int fd = open(r->file, r->mode);
  if(fd < 0){
    fprintf(2, "sh: cannot open %s\n", r->file);
    return -1;
  }
  if(fd != r->fd){
    fprintf(2, "sh: cannot redirect to descriptor %d\n", r->fd);
    return -1;
  }
  if(r->append){
    struct stat st;
    char skip[512];
    if(fstat(fd, &st) == 0 && st.type == T_FILE)
      while(read(fd, skip, sizeof(skip)) > 0)
        ;
  }
  return 0;
}

// The shell's own commands, which must run in the shell process itself
// (a child's cd would change only the child's directory).
// Returns 1 if argv was a built-in.
static int
builtin(struct cmd *c)
{
  if(c->kind != EXEC || c->nredir != 0 || c->argc == 0)
    return 0;
  if(strcmp(c->argv[0], "cd") == 0){
    char *dir = c->argc > 1 ? c->argv[1] : "/";
    if(chdir(dir) < 0)
      fprintf(2, "sh: cd %s failed\n", dir);
    return 1;
  }
  if(strcmp(c->argv[0], "exit") == 0)
    exit(c->argc > 1 ? atoi(c->argv[1]) : 0);
  return 0;
}

// Run one command in the current (child) process. Never returns.
static void __attribute__((noreturn))
run_command(struct cmd *c)
{
  for(int i = 0; i < c->nredir; i++)
    if(apply_redirect(&c->redir[i]) < 0)
      exit(1);

  if(c->kind == SUBSHELL)
    exit(run_list(c->body));

  if(c->argc == 0)      // only redirections, like "> empty": done
    exit(0);
  if(builtin(c))        // cd inside a pipeline: harmless, affects nobody
    exit(0);
  c->argv[c->argc] = 0;
  exec(c->argv[0], c->argv);

  // Not found here: programs live in the root directory, so try there too.
  if(c->argv[0][0] != '/' && strlen(c->argv[0]) < 100){
    char path[104];
    path[0] = '/';
    strcpy(path + 1, c->argv[0]);
    exec(path, c->argv);
  }
  fprintf(2, "sh: exec %s failed\n", c->argv[0]);
  exit(1);
}

// Run a pipeline in the current (child) process. Never returns.
static void __attribute__((noreturn))
run_pipeline(struct cmd *c)
{
  if(c->kind != PIPE)
    run_command(c);

  int p[2];
  if(pipe(p) < 0){
    fprintf(2, "sh: pipe failed\n");
    exit(1);
  }
  int left = forkorfail();
  if(left == 0){
    close(1);
    dup(p[1]);         // lowest free descriptor: 1
    close(p[0]);
    close(p[1]);
    run_command(c->left);
  }
  int right = forkorfail();
  if(right == 0){
    close(0);
    dup(p[0]);         // lowest free descriptor: 0
    close(p[0]);
    close(p[1]);
    run_pipeline(c->right);
  }
  // The parent must close both ends: the right side sees end of file only
  // once every write end, this one included, is closed.
  close(p[0]);
  close(p[1]);
  if(left > 0)
    wait_for(left);
  exit(right > 0 ? wait_for(right) : 1);
}

// Run each pipeline of a list in a child, waiting for the foreground ones.
// Returns the exit status of the last one.
static int
run_list(struct cmd *l)
{
  int status = 0;
  for(; l != 0 && l->item != 0; l = l->next){
    if(!l->background && builtin(l->item))
      continue;
    int pid = forkorfail();
    if(pid < 0)
      return -1;
    if(pid == 0){
      if(l->background){
        // Hand the job to a grandchild and leave: the grandchild becomes
        // init's child, and the shell never has to collect it.
        int job = fork();
        if(job < 0)
          fprintf(2, "sh: fork failed\n");
        if(job != 0)
          exit(0);
      }
      run_pipeline(l->item);
    }
    status = wait_for(pid);
  }
  return status;
}

// ---------------------------------------------------------------------

// Make sure descriptors 0, 1 and 2 are open, so that a file this shell
// opens never becomes some program's standard input or output by accident.
static void
ensure_std_fds(void)
{
  int fd;
  while((fd = open("console", O_RDWR)) >= 0){
    if(fd >= 3){
      close(fd);
      break;
    }
  }
}

int
main(void)
{
  static char line[LINEMAX];
  struct stat st;

  ensure_std_fds();
  int interactive = fstat(0, &st) == 0 && st.type == T_DEVICE;

  for(;;){
    if(interactive)
      fprintf(2, "$ ");
    gets(line, sizeof(line));
    if(line[0] == 0)
      break;           // end of input
    int n = strlen(line);
    if(n == sizeof(line) - 1 && line[n - 1] != '\n'){
      fprintf(2, "sh: line too long\n");
      // Throw away the rest of the long line.
      while(n > 0 && line[strlen(line) - 1] != '\n'){
        gets(line, sizeof(line));
        n = strlen(line);
      }
      continue;
    }
    struct cmd *c = parse_line(line);
    if(c != 0)
      run_list(c);
  }
  exit(0);
}
