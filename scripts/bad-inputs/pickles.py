#!/usr/bin/env python3
"""Writes the hostile-pickle fixtures of test/fixtures/bad-inputs/ (issue 13, items 1 and 2).

    python3 scripts/bad-inputs/pickles.py [OUT_DIR]      (default: test/fixtures/bad-inputs)

Each file is a torch.save-style zip (archive/data.pkl, archive/data/0, archive/version, STORED)
whose data.pkl is a state dict {'w': a 2x2 float32 tensor, 'x': HOSTILE} written opcode by
opcode with struct, so the bytes are exactly the attack described; nothing here is unpickled.
Every file is a few KB to a few hundred KB. torch.load(weights_only=True) would accept most of
them and then run out of memory or time (or, for the nesting ones, recursion in whatever walks
the value); Grassmann Lens must refuse each with one line naming the file and the budget.

  pickle-deep-list.pt           'x' is a list nested 100,000 deep (EMPTY_LIST x N, APPEND x N).
  pickle-deep-dict.pt           'x' is a dict nested 50,000 deep ({'k': {'k': ...}}, SETITEM).
  pickle-deep-out-of-order.pt   'x' is a list nested 20,000 deep, built outer-first through the
                                memo (each level is appended to its parent before it is filled),
                                so depth cannot be read off the order of construction.
  pickle-appends-storm.pt       'x' nests 100,000 lists each opened with MARK and closed by its
                                own APPENDS (100,000 marks open at once).
  pickle-setitems-storm.pt      the same with dicts: MARK ... SETITEMS, 50,000 deep.
  pickle-dup-amplification.pt   'x' is L32 with L0 = [0], L(i+1) = [Li, Li] (memo/DUP): 2^32
                                would-be elements (> 4 GB as values) from 300 bytes.
  pickle-ordereddict-copies.pt  a dict of 4,096 entries, then 20,000 x OrderedDict(that dict)
                                (allow-listed REDUCE): 82M dict entries copied (~3 GB as values).
  pickle-quadratic-set.pt       a list grown one element at a time, set(list) after each append:
                                quadratic copying, 20,000 steps -> 200M elements.
  pickle-codecs-encode.pt       a 64 KiB string, then 20,000 x _codecs.encode(s, 'latin1'): 1.3 GB
                                of bytes from a 230 KB file.
  pickle-huge-string-length.pt  BINUNICODE8 that claims 2^62 bytes (the file has a few).
  pickle-huge-long4.pt          LONG4 that claims a 2 GiB integer literal.
"""
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, 'test', 'fixtures', 'bad-inputs')

# ----------------------------------------------------------------------------------------------
# opcodes
# ----------------------------------------------------------------------------------------------
PROTO2 = b'\x80\x02'
MARK, STOP, POP, DUP = b'(', b'.', b'0', b'2'
EMPTY_LIST, APPEND, APPENDS = b']', b'a', b'e'
EMPTY_DICT, SETITEM, SETITEMS = b'}', b's', b'u'
EMPTY_TUPLE, TUPLE, TUPLE1, TUPLE2 = b')', b't', b'\x85', b'\x86'
REDUCE, BINPERSID, NEWFALSE = b'R', b'Q', b'\x89'

def p_global(module, name):
    return b'c' + module.encode() + b'\n' + name.encode() + b'\n'

def p_str(s):
    b = s.encode('utf-8')
    return b'X' + struct.pack('<I', len(b)) + b

def p_int(i):
    return b'J' + struct.pack('<i', i)

def p_int_tuple(values):
    return MARK + b''.join(p_int(v) for v in values) + TUPLE

def p_int2(i):
    return b'M' + struct.pack('<H', i)  # BININT2

def put(i):
    return b'q' + bytes([i])  # BINPUT

def get(i):
    return b'h' + bytes([i])  # BINGET

def tensor_w():
    """_rebuild_tensor_v2 of a 2x2 float32 tensor in storage '0', as torch.save writes it."""
    out = p_global('torch._utils', '_rebuild_tensor_v2') + MARK
    out += MARK + p_str('storage') + p_global('torch', 'FloatStorage') + p_str('0') + p_str('cpu') + p_int(4) + TUPLE + BINPERSID
    out += p_int(0) + p_int_tuple([2, 2]) + p_int_tuple([2, 1]) + NEWFALSE
    out += p_global('collections', 'OrderedDict') + EMPTY_TUPLE + REDUCE + TUPLE + REDUCE
    return out

def state_dict(hostile):
    """{'w': tensor, 'x': <hostile>}: an OrderedDict built as torch.save builds one."""
    out = PROTO2 + p_global('collections', 'OrderedDict') + EMPTY_TUPLE + REDUCE
    out += p_str('w') + tensor_w() + SETITEM
    out += p_str('x') + hostile + SETITEM
    return out + STOP

# Memo slots 0..9 are left to the hostile builders; the state dict itself uses none.

def deep_list(n):
    return EMPTY_LIST * n + APPEND * (n - 1)

def deep_dict(n):
    # {} 'k' {} 'k' ... {} then SETITEM x (n-1): each SETITEM puts the top dict under 'k' below it.
    key = p_str('k') + put(0)
    body = EMPTY_DICT + key
    for _ in range(n - 2):
        body += EMPTY_DICT + get(0)
    body += EMPTY_DICT
    return body + SETITEM * (n - 1)

def deep_out_of_order(n):
    # L0 = []; memo[1] = L0. Each step: push a new list, memo it as the current one... built so
    # each child is appended to its parent while still empty, then becomes the parent.
    out = EMPTY_LIST + put(0) + put(1)  # root, kept on the stack; memo[1] = current parent
    for _ in range(n - 1):
        out += get(1) + EMPTY_LIST + put(1) + APPEND + POP  # parent.append(child); current = child
    return out

def appends_storm(n):
    return (EMPTY_LIST + MARK) * n + APPENDS * n

def setitems_storm(n):
    key = p_str('k') + put(0)
    body = EMPTY_DICT + MARK + key
    for _ in range(n - 2):
        body += EMPTY_DICT + MARK + get(0)
    body += EMPTY_DICT + MARK
    # The innermost dict's MARK closes empty; then each SETITEMS sets 'k' -> the dict above it.
    return body + SETITEMS * n

def dup_amplification(levels):
    out = EMPTY_LIST + MARK + p_int(0) + APPENDS
    for _ in range(levels):
        out += DUP + TUPLE2  # (L, L): a tuple twice as large as its element, as a would-be value
    return out

def ordereddict_copies(entries, copies):
    d = EMPTY_DICT + MARK
    for i in range(entries):
        d += p_int2(i) + p_int2(i)
    d += SETITEMS + put(0) + POP
    od = p_global('collections', 'OrderedDict') + put(1) + POP
    out = d + od + EMPTY_LIST + MARK
    for _ in range(copies):
        out += get(1) + get(0) + TUPLE1 + REDUCE
    return out + APPENDS

def quadratic_set(steps):
    out = p_global('builtins', 'set') + put(1) + POP
    out += EMPTY_LIST + put(0) + POP + EMPTY_LIST + MARK  # the result list, then a MARK for its items
    for i in range(steps):
        # L.append(i) (L is fetched, appended to, and popped), then set(L) stays on the stack.
        out += get(0) + p_int2(i) + APPEND + POP + get(1) + get(0) + TUPLE1 + REDUCE
    return out + APPENDS

def codecs_encode(chars, copies):
    s = 'g' * chars
    out = p_str(s) + put(0) + POP + p_str('latin1') + put(1) + POP + p_global('_codecs', 'encode') + put(2) + POP
    out += EMPTY_LIST + MARK
    for _ in range(copies):
        out += get(2) + get(0) + get(1) + TUPLE2 + REDUCE
    return out + APPENDS

def huge_string_length():
    return b'\x8d' + struct.pack('<Q', 1 << 62) + b'abc'

def huge_long4():
    return b'\x8b' + struct.pack('<i', 0x7fffffff) + b'\x00' * 16

# ----------------------------------------------------------------------------------------------
# the torch zip, byte by byte (STORED, no data descriptors)
# ----------------------------------------------------------------------------------------------

def local_header(name, data):
    n = name.encode()
    crc = zlib.crc32(data) & 0xffffffff
    return struct.pack('<IHHHHHIIIHH', 0x04034b50, 20, 0, 0, 0, 0, crc, len(data), len(data), len(n), 0) + n

def central_record(name, data, offset):
    n = name.encode()
    crc = zlib.crc32(data) & 0xffffffff
    return struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 20, 20, 0, 0, 0, 0, crc, len(data), len(data), len(n), 0, 0, 0, 0, 0, offset) + n

def torch_zip(pickle):
    entries = [('archive/data.pkl', pickle), ('archive/data/0', struct.pack('<4f', 1, 2, 3, 4)), ('archive/version', b'3\n')]
    body = b''
    centrals = b''
    for name, data in entries:
        centrals += central_record(name, data, len(body))
        body += local_header(name, data) + data
    end = struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, len(entries), len(entries), len(centrals), len(body), 0)
    return body + centrals + end

FIXTURES = {
    'pickle-deep-list.pt': lambda: deep_list(100_000),
    'pickle-deep-dict.pt': lambda: deep_dict(50_000),
    'pickle-deep-out-of-order.pt': lambda: deep_out_of_order(20_000),
    'pickle-appends-storm.pt': lambda: appends_storm(100_000),
    'pickle-setitems-storm.pt': lambda: setitems_storm(50_000),
    'pickle-dup-amplification.pt': lambda: dup_amplification(32),
    'pickle-ordereddict-copies.pt': lambda: ordereddict_copies(4096, 20_000),
    'pickle-quadratic-set.pt': lambda: quadratic_set(20_000),
    'pickle-codecs-encode.pt': lambda: codecs_encode(65536, 20_000),
    'pickle-huge-string-length.pt': huge_string_length,
    'pickle-huge-long4.pt': huge_long4,
}

if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    for name, build in FIXTURES.items():
        data = torch_zip(state_dict(build()))
        with open(os.path.join(OUT, name), 'wb') as f:
            f.write(data)
        print(f'{name}: {len(data)} bytes')
