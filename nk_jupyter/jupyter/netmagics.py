"""Magics for a lab's wires and ways out: %port, %vdump, %vshape (the CLI's port, vdump, vshape)."""
from __future__ import annotations

import queue
import threading

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .. import pcap
from .friendly import DIR_ARG as _DIR, user_errors
from .live import Followers
from .session import Session

_DONE = object()


@magics_class
class NetMagics(Magics):
    def __init__(self, shell, session: Session, followers: Followers) -> None:
        super().__init__(shell)
        self.session, self.followers = session, followers

    def _running_lab(self, where: str | None):
        return self.session.require_running(self.session.resolve(where))

    @line_magic
    @magic_arguments()
    @_DIR
    @argument("action", choices=("ls", "add", "rm"), nargs="?", default="ls", help="list, publish or remove")
    @argument("rest", nargs="*", metavar="ARG", help="add: MACHINE [HOSTIP:]HOSTPORT:GUESTPORT[/tcp]; rm: the spec")
    @user_errors
    def port(self, line: str):
        """Publish ports from the host to machines: `%port add web 8080:80`, `%port rm 8080:80`, `%port`.

        A published port listens on the host's 127.0.0.1 (unless a host IP is given) and
        reaches the port on the machine's 127.0.0.1. Returns the list of published ports.
        """
        args = parse_argstring(self.port, line)
        lab = self._running_lab(args.directory)
        if args.action == "add":
            if len(args.rest) != 2:
                raise UsageError("%port add MACHINE [HOSTIP:]HOSTPORT:GUESTPORT[/tcp], e.g. %port add web 8080:80")
            return lab.publish(args.rest[0], args.rest[1])
        if args.action == "rm":
            if len(args.rest) != 1:
                raise UsageError("%port rm [HOSTIP:]HOSTPORT:GUESTPORT[/tcp], e.g. %port rm 8080:80")
            return lab.unpublish(args.rest[0])
        return lab.ports()

    @line_magic
    @magic_arguments()
    @_DIR
    @argument("-c", "--count", type=int, default=0, metavar="N", help="stop after N frames (default: until interrupted)")
    @argument("domain", help="the collision domain")
    @user_errors
    def vdump(self, line: str) -> int:
        """Show the frames of a collision domain as they pass, one line each (captured in the
        lab's hub, where no machine reaches). Stop it with the kernel's interrupt, or -c N.

        Example: `%vdump A -c 10` while another machine pings. Returns the number of frames.
        """
        args = parse_argstring(self.vdump, line)
        if args.count < 0:
            raise UsageError("-c: a number of frames, 0 or more")
        lab = self._running_lab(args.directory)
        stream = lab.capture(args.domain, args.count)
        lines: queue.Queue = queue.Queue()
        errors: list[bytes] = []

        def read() -> None:
            try:
                for text in pcap.lines(stream.stdout(errors)):
                    lines.put(text)
            except pcap.PcapError as e:
                lines.put(f"(capture ended: {e})")
            finally:
                lines.put(_DONE)
        threading.Thread(target=read, daemon=True, name="nk-vdump").start()
        frames = 0
        stopping = False
        while True:
            try:
                item = lines.get(timeout=0.25)
            except queue.Empty:
                continue
            except KeyboardInterrupt:  # the kernel's interrupt stops the capture, not the lab
                if not stopping:
                    stream.signal("INT")
                    stopping = True
                continue
            if item is _DONE:
                break
            frames += 1
            print(item, flush=True)
        for text in pcap.notes(errors):
            print(f"vdump: {text}")
        print(f"{frames} frame(s) captured on {args.domain}.")
        return frames

    @line_magic
    @magic_arguments()
    @_DIR
    @argument("target", help="a machine (then ethN) or a collision domain")
    @argument("shape", nargs="*", help="[ethN] rate=10mbit loss=1%% delay=20ms jitter=5ms, or none")
    @user_errors
    def vshape(self, line: str):
        """Shape links on the hub side: `%vshape r1 eth0 rate=10mbit loss=1%`, `%vshape A rate=1mbit`,
        `%vshape A none`. Delay and jitter need the kernel's netem."""
        args = parse_argstring(self.vshape, line)
        shape, done = self._running_lab(args.directory).shape_words(args.target, args.shape)
        for item in done:
            print(f"{item}: {shape or 'not shaped'}")


__all__ = ["NetMagics"]
