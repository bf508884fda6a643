"""What a process does once it has started and before it takes work, so that no request
or mail waits for it.

Two pauses showed in sign-up latency (bench/README.md, "What moved"): the first sign-ups
loading the common-password list and starting the argon2 threads, and, a few seconds in,
the garbage collector's first full pass over everything the imports made (65-88 ms with
the event loop stopped, while argon2 kept both cores busy). `gc.freeze()` moves what
start-up made into the collector's permanent generation: later passes look only at what
came after.
"""

from __future__ import annotations

import gc

from regmail.accounts.passwords import PasswordHashing, common_passwords


def freeze_start_up() -> None:
    """Collect start-up's garbage, then keep the collector off what remains. For a
    process's own entry point only: what is frozen is never collected, so a test process
    that built app after app would keep each one."""
    gc.collect()
    gc.freeze()


async def warm_api(hashing: PasswordHashing) -> None:
    """The password list read and every argon2 thread started."""
    common_passwords()
    await hashing.warm()
