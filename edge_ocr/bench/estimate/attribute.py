"""Which code a block belongs to: the loaded object (from the guest's load bases and each ELF's PT_LOAD ranges), the
function (start addresses from ``.eh_frame_hdr``: Paddle Lite's library is stripped, its unwind table is not), and a
kernel family read from the instructions the function executed.
"""

from __future__ import annotations

import bisect
import os
import re
import struct
from functools import lru_cache

PT_LOAD, PT_GNU_EH_FRAME = 1, 0x6474E550


@lru_cache(maxsize=32)
def elf_layout(path: str) -> tuple[tuple[int, int], tuple[int, ...]]:
    """((lowest vaddr, highest vaddr end) of PT_LOAD, sorted function start vaddrs from .eh_frame_hdr)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return (0, 0), ()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return (0, 0), ()
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    low, high, eh = None, 0, None
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr, _, _, p_memsz, _ = struct.unpack_from("<IIQQQQQQ", data, phoff + i * phentsize)
        if p_type == PT_LOAD:
            low = p_vaddr if low is None else min(low, p_vaddr)
            high = max(high, p_vaddr + p_memsz)
        elif p_type == PT_GNU_EH_FRAME:
            eh = (p_offset, p_vaddr)
    starts: list[int] = []
    if eh is not None:
        off, vaddr = eh
        version, _, count_enc, table_enc = data[off:off + 4]
        # the encodings every GNU toolchain writes: pcrel|sdata4, udata4, datarel|sdata4
        if version == 1 and count_enc == 0x03 and table_enc == 0x3B:
            count, = struct.unpack_from("<I", data, off + 8)
            table = off + 12
            for k in range(count):
                rel, = struct.unpack_from("<i", data, table + 8 * k)
                starts.append(vaddr + rel)
    return (low or 0, high), tuple(sorted(starts))


class Attributor:
    """Maps guest addresses to (object name, function id)."""

    def __init__(self, objects: list[tuple[int, str]], sysroot: str = "/usr/aarch64-linux-gnu") -> None:
        self.ranges: list[tuple[int, int, str, tuple[int, ...], int]] = []
        for base, path in objects:
            # the guest's /lib is the cross libc's (the qemu prefix links it)
            candidate = os.path.join(sysroot, path.lstrip("/")) if path.startswith("/lib/") else path
            real = candidate if os.path.isfile(candidate) else path
            (low, high), starts = elf_layout(real) if path != "-" else ((0, 0), ())
            name = "runner" if path == "-" else os.path.basename(path)
            if high:
                self.ranges.append((base + low, base + high, name, starts, base))
        self.ranges.sort()

    def locate(self, vaddr: int) -> tuple[str, str]:
        for low, high, name, starts, base in self.ranges:
            if low <= vaddr < high:
                rel = vaddr - base
                at = bisect.bisect_right(starts, rel) - 1
                return name, (f"{name}+{starts[at]:#x}" if at >= 0 else f"{name}+?")
        return "unknown", "unknown"


FAMILIES = ("int8 gemm (sdot)", "int8 conv/gemm (smull/smlal, no sdot)", "fp32 gemm (fmla by element)",
            "fp32 conv (direct/depthwise fmla)", "max/min (pooling, relu/clip)", "quantize/dequantize",
            "elementwise/activation (vector)", "memcpy/memset (libc)", "libm", "other (scalar, framework)",
            "packing/transpose (trn/zip)", "scalar int/float convert (requantize, resize indices)")

_DOT = re.compile(r"^[su]dot\b")
_INT8_MUL = re.compile(r"^(s|u)(mull2?|mlal2?|mlsl2?|adalp)\b")
_FMLA = re.compile(r"^fml[as]\b.*v\d+\.[248][sdh]")
_MAX = re.compile(r"^(f|s|u)(max|min)(p|nm|nmp|v)?\b.*v\d+\.")
_QUANT = re.compile(r"^(scvtf|ucvtf|fcvtz[su]|fcvtn[su]|fcvta[su]|fcvtm[su]|fcvtp[su]|sqxtun?2?|sqxtn2?|uqxtn2?|"
                    r"sqrshrun?2?|sqshrun?2?|srshr|sqrdmulh|sqdmulh)\b.*v\d+\.")
_QUANT_SCALAR = re.compile(r"^(scvtf|ucvtf|fcvtz[su]|fcvtn[su]|fcvta[su])\b")
_PACK = re.compile(r"^(trn[12]|zip[12]|uzp[12])\b")
_VEC_FP = re.compile(r"^f(add|sub|mul|div|neg|abs|sqrt|recpe|recps|rsqrte|rsqrts|cm\w+|mla|bsl)\b.*v\d+\.|"
                     r"^(bsl|bif|bit|fexp)\b")


def classify(weighted: dict[str, float], obj: str) -> str:
    """A function's kernel family from its executed instructions (mnemonic text -> executions)."""
    total = sum(weighted.values()) or 1.0

    def share(pattern: re.Pattern) -> float:
        return sum(w for text, w in weighted.items() if pattern.search(text)) / total

    if share(_DOT) >= 0.03:
        return FAMILIES[0]
    if share(_INT8_MUL) >= 0.05:
        return FAMILIES[1]
    fmla = share(_FMLA)
    if fmla >= 0.05:
        by_element = sum(w for text, w in weighted.items() if _FMLA.search(text) and "[" in text) / total
        return FAMILIES[2] if by_element >= fmla / 2 else FAMILIES[3]
    if share(_MAX) >= 0.05:
        return FAMILIES[4]
    if share(_QUANT) >= 0.03:
        return FAMILIES[5]
    if share(_PACK) >= 0.10:
        return FAMILIES[10]
    if share(_QUANT_SCALAR) >= 0.05:  # scalar requantize loops of int8 ops, or interpolation index maths
        return FAMILIES[11]
    if share(_VEC_FP) >= 0.05:
        return FAMILIES[6]
    if obj.startswith("libc."):
        return FAMILIES[7]
    if obj.startswith("libm."):
        return FAMILIES[8]
    return FAMILIES[9]
