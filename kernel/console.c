// console.c: the console device (major number CONSOLE): line-edited input
// from the UART, output to the UART.
//
// Input: the UART interrupt hands every received byte to consoleintr(),
// which keeps the line being typed in a ring buffer and echoes it. Line
// editing follows the classic terminal conventions:
//   Backspace or DEL   erase the last character
//   Ctrl-U             erase the whole line
//   Ctrl-D             end of file: a read() returns what is typed so far,
//                      or 0 if the line is empty
//   Ctrl-P             print the process list (procdump)
// Enter ends the line. A read() blocks until a whole line (or Ctrl-D) is
// there, so programs never see half-edited input.
//
// Output: consolewrite() passes bytes to uartputc(), which sleeps while the
// UART's transmit ring is full. Echo uses uartputc_sync() instead, because
// consoleintr() runs in an interrupt handler, where sleeping is not allowed.
//
// See it run: `make qemu`, type at the shell, use Backspace and Ctrl-U.
#include "types.h"
#include "param.h"
#include "spinlock.h"
#include "sleeplock.h"
#include "fs.h"
#include "file.h"
#include "memlayout.h"
#include "riscv.h"
#include "proc.h"
#include "defs.h"

#define BACKSPACE 0x100           // consputc(): erase the last character on screen
#define CTRL(x) ((x) - '@')       // the byte Ctrl+x sends, e.g. CTRL('D') = 4

#define INPUT_BUF 128

// The input ring. r, w and e only ever grow; index with % INPUT_BUF.
//   buf[r .. w)   complete lines, ready for read()
//   buf[w .. e)   the line being edited, not yet visible to read()
static struct {
  struct spinlock lock;
  char buf[INPUT_BUF];
  uint r;   // next byte read() returns
  uint w;   // end of the complete lines
  uint e;   // end of the line being edited
} cons;

// One write() at a time: uartputc sleeps when the UART's ring is full, and
// without this another process's write could slip in between, so that
// "udpecho: listening" and a shell's "$ " came out mixed letter by letter
// when the two ran on different harts.
static struct sleeplock writelock;

// Put one character on the screen, synchronously.
void
consputc(int c)
{
  if(c == BACKSPACE){
    // Move back, overwrite with a space, move back again.
    uartputc_sync('\b');
    uartputc_sync(' ');
    uartputc_sync('\b');
  } else {
    uartputc_sync(c);
  }
}

// write() on the console. Returns the bytes written, or -1 if not even
// the first byte could be read from src.
static int
consolewrite(int user_src, uint64 src, int n)
{
  char chunk[32];
  int done = 0;

  acquiresleep(&writelock);
  // Copy in small chunks: one either_copyin() per byte would walk the
  // page table for every byte.
  while(done < n){
    int m = n - done;
    if(m > (int)sizeof(chunk))
      m = sizeof(chunk);
    if(either_copyin(chunk, user_src, src + done, m) < 0)
      break;
    for(int i = 0; i < m; i++)
      uartputc(chunk[i]);
    done += m;
  }
  releasesleep(&writelock);
  return done > 0 || n == 0 ? done : -1;
}

// read() on the console: copy up to n bytes of complete input lines to
// dst, stopping after a newline. Returns the bytes copied, 0 at end of
// file, or -1 if the process was killed while waiting or dst is bad.
static int
consoleread(int user_dst, uint64 dst, int n)
{
  int done = 0;

  acquire(&cons.lock);
  while(done < n){
    while(cons.r == cons.w){
      if(killed(myproc())){
        release(&cons.lock);
        return -1;
      }
      sleep(&cons.r, &cons.lock);
    }

    char c = cons.buf[cons.r % INPUT_BUF];
    if(c == CTRL('D')){
      // End of file. If we already have bytes, return them and leave the
      // ^D in the buffer, so that the next read() returns 0.
      if(done == 0)
        cons.r++;
      break;
    }
    // Consume the byte only once it is safely copied out.
    if(either_copyout(user_dst, dst + done, &c, 1) < 0){
      if(done == 0)
        done = -1;
      break;
    }
    cons.r++;
    done++;
    if(c == '\n')
      break;
  }
  release(&cons.lock);
  return done;
}

// One byte arrived from the keyboard. Called by uartintr(), in interrupt
// context.
void
consoleintr(int c)
{
  acquire(&cons.lock);

  if(c == CTRL('P')){
    procdump();
  } else if(c == CTRL('U')){
    while(cons.e != cons.w && cons.buf[(cons.e - 1) % INPUT_BUF] != '\n'){
      cons.e--;
      consputc(BACKSPACE);
    }
  } else if(c == CTRL('H') || c == 0x7f){
    if(cons.e != cons.w){
      cons.e--;
      consputc(BACKSPACE);
    }
  } else if(c != 0 && cons.e - cons.r < INPUT_BUF){
    if(c == '\r')
      c = '\n';     // terminals send CR for Enter
    if(c != CTRL('D'))
      consputc(c);
    cons.buf[cons.e % INPUT_BUF] = c;
    cons.e++;
    // A finished line (or a full buffer, which nothing could edit further
    // anyway) becomes visible to read().
    if(c == '\n' || c == CTRL('D') || cons.e - cons.r == INPUT_BUF){
      cons.w = cons.e;
      wakeup(&cons.r);
    }
  }

  release(&cons.lock);
}

void
consoleinit(void)
{
  initlock(&cons.lock, "cons");
  initsleeplock(&writelock, "console write");
  devsw[CONSOLE].read = consoleread;
  devsw[CONSOLE].write = consolewrite;
}
