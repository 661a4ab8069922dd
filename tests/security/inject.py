"""Run by machine root in a machine: make its pid 1 call chmod(PATH, MODE) (ptrace syscall
injection, x86_64), print the system call's result, and leave pid 1 as it was.

    python3 inject.py PATH OCTAL_MODE
"""
import ctypes
import os
import sys

PTRACE_GETREGS, PTRACE_SETREGS, PTRACE_SINGLESTEP, PTRACE_DETACH = 12, 13, 9, 17
PTRACE_SEIZE, PTRACE_INTERRUPT = 0x4206, 0x4207
SYS_CHMOD = 90
NAMES = ("r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss fs_base gs_base "
         "ds es fs gs").split()


class Regs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_ulonglong) for n in NAMES]


libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]


def ptrace(request, pid, addr=0, data=0):
    if libc.ptrace(request, pid, ctypes.c_void_p(addr), ctypes.c_void_p(data)) == -1 and ctypes.get_errno():
        raise OSError(ctypes.get_errno(), f"ptrace({request}): {os.strerror(ctypes.get_errno())}")


def syscall_instruction(pid, near):
    with open(f"/proc/{pid}/mem", "rb") as mem:
        mem.seek(near - 2)
        if mem.read(2) == b"\x0f\x05":
            return near - 2
        for line in open(f"/proc/{pid}/maps"):
            span, perms = line.split()[:2]
            if "x" in perms:
                lo, hi = (int(x, 16) for x in span.split("-"))
                mem.seek(lo)
                at = mem.read(hi - lo).find(b"\x0f\x05")
                if at >= 0:
                    return lo + at
    raise SystemExit("no syscall instruction found")


def main(path, mode, pid=1):
    ptrace(PTRACE_SEIZE, pid)
    ptrace(PTRACE_INTERRUPT, pid)
    os.waitpid(pid, 0x40000000)  # __WALL
    regs = Regs()
    ptrace(PTRACE_GETREGS, pid, 0, ctypes.addressof(regs))
    saved = Regs.from_buffer_copy(regs)
    where = syscall_instruction(pid, regs.rip)
    text = path.encode() + b"\0"
    addr = (regs.rsp - 4096) & ~0xF  # below its stack pointer (and the red zone)
    with open(f"/proc/{pid}/mem", "rb+", buffering=0) as mem:
        mem.seek(addr)
        old = mem.read(len(text))
        mem.seek(addr)
        mem.write(text)
        regs.rax, regs.orig_rax, regs.rdi, regs.rsi, regs.rip = SYS_CHMOD, 2**64 - 1, addr, mode, where
        ptrace(PTRACE_SETREGS, pid, 0, ctypes.addressof(regs))
        ptrace(PTRACE_SINGLESTEP, pid)
        os.waitpid(pid, 0x40000000)
        ptrace(PTRACE_GETREGS, pid, 0, ctypes.addressof(regs))
        result = ctypes.c_longlong(regs.rax).value
        mem.seek(addr)
        mem.write(old)
    ptrace(PTRACE_SETREGS, pid, 0, ctypes.addressof(saved))
    ptrace(PTRACE_DETACH, pid)
    print(result)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2], 8))
