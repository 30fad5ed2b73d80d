#!/usr/bin/env python3
"""Writes the container fixtures of test/fixtures/bad-inputs/ (zip and legacy torch files).

    python3 scripts/bad-inputs/containers.py [OUT_DIR]      (default: test/fixtures/bad-inputs)

The hostile and malformed zips are built byte by byte (struct), so each is exactly the archive
described; their pickles are written opcode by opcode, nothing here is ever unpickled. The valid
but unusual files (an expanded head, legacy files over 1 MiB) are genuine torch.save output and
need PyTorch (Debian's /usr/bin/python3 has torch 1.13); without torch they are skipped.

  duplicate-data-pkl.pt       two 'archive/data.pkl' entries: a harmless state dict first, a pickle
                              calling posix.system second (what torch.load, which takes the last
                              copy, would run). Must be refused naming the entry; nothing runs.
  name-mismatch.pt            the central directory says 'archive/data.pkl', its local header says
                              'archive/data.pkx'.
  overlapping-entries.pt      the local header and data of 'archive/data/1' lie inside the data of
                              'archive/data/0' (one byte range read under two names).
  entry-overlaps-central-directory.pt
                              'archive/version' claims a size that runs into the central directory.
  expanded-head.pt            valid: tiny-grassmann's weights with a 4,194,304-token vocabulary whose
                              token embedding and lm_head are two separate stride-0 expands of
                              [1, 64] storages (1 GiB each as float32, 256 bytes each on disk).
  legacy-2mb-string.pt        valid: a pre-1.6 (non-zip) torch.save whose pickle holds a 2 MB string.
  legacy-12k-tensors.pt       valid: a pre-1.6 torch.save of 12,000 small tensors (pickle > 1 MiB).
"""
import json
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, 'test', 'fixtures', 'bad-inputs')

# ----------------------------------------------------------------------------------------------
# pickles, opcode by opcode (protocol 2, as torch.save writes)
# ----------------------------------------------------------------------------------------------

def p_global(module, name):
    return b'c' + module.encode() + b'\n' + name.encode() + b'\n'

def p_str(s):
    b = s.encode('utf-8')
    return b'X' + struct.pack('<I', len(b)) + b

def p_int(i):
    return b'J' + struct.pack('<i', i)

def p_int_tuple(values):
    return b'(' + b''.join(p_int(v) for v in values) + b't'

def harmless_state_dict_pickle():
    """OrderedDict({'w': a 2x2 float tensor in storage '0'}), as torch.save pickles it."""
    out = b'\x80\x02' + p_global('collections', 'OrderedDict') + b')R('
    out += p_str('w') + p_global('torch._utils', '_rebuild_tensor_v2') + b'('
    out += b'(' + p_str('storage') + p_global('torch', 'FloatStorage') + p_str('0') + p_str('cpu') + p_int(4) + b'tQ'
    out += p_int(0) + p_int_tuple([2, 2]) + p_int_tuple([2, 1]) + b'\x89'
    out += p_global('collections', 'OrderedDict') + b')R' + b'tR'
    return out + b'u.'

def hostile_system_pickle(marker):
    """posix.system('touch MARKER'): what an unrestricted unpickler would run."""
    return b'\x80\x02' + p_global('posix', 'system') + p_str(f'touch {marker}') + b'\x85R.'

FLOATS = struct.pack('<4f', 1.0, 2.0, 3.0, 4.0)

# ----------------------------------------------------------------------------------------------
# zips, byte by byte (STORED, no data descriptors)
# ----------------------------------------------------------------------------------------------

def local_header(name, data, local_name=None):
    n = (local_name if local_name is not None else name).encode()
    crc = zlib.crc32(data) & 0xffffffff
    return struct.pack('<IHHHHHIIIHH', 0x04034b50, 20, 0, 0, 0, 0, crc, len(data), len(data), len(n), 0) + n

def central_record(name, data, offset, size=None):
    n = name.encode()
    crc = zlib.crc32(data) & 0xffffffff
    size = len(data) if size is None else size
    return struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 20, 20, 0, 0, 0, 0, crc, size, size, len(n), 0, 0, 0, 0, 0, offset) + n

def end_record(count, cd_size, cd_offset):
    return struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, count, count, cd_size, cd_offset, 0)

def build_zip(entries):
    """entries: dicts with name, data and optionally local_name (the name in the local header),
    size (the size the central directory claims), at (write no local header: the central record
    points at this absolute offset instead)."""
    body = b''
    centrals = b''
    for e in entries:
        if 'at' in e:
            offset = e['at']
        else:
            offset = len(body)
            body += local_header(e['name'], e['data'], e.get('local_name')) + e['data']
        centrals += central_record(e['name'], e['data'], offset, e.get('size'))
    return body + centrals + end_record(len(entries), len(centrals), len(body))

VERSION = {'name': 'archive/version', 'data': b'3\n'}

def write(name, data):
    path = os.path.join(OUT, name)
    with open(path, 'wb') as f:
        f.write(data)
    print(f'{name}: {len(data)} bytes')

def zips():
    pkl = harmless_state_dict_pickle()
    write('duplicate-data-pkl.pt', build_zip([
        {'name': 'archive/data.pkl', 'data': pkl},
        {'name': 'archive/data/0', 'data': FLOATS},
        VERSION,
        {'name': 'archive/data.pkl', 'data': hostile_system_pickle('/tmp/grassmann-lens-pwned-duplicate')},
    ]))
    write('name-mismatch.pt', build_zip([
        {'name': 'archive/data.pkl', 'data': pkl, 'local_name': 'archive/data.pkx'},
        {'name': 'archive/data/0', 'data': FLOATS},
        VERSION,
    ]))
    # 'archive/data/1' (local header and 16 bytes) is embedded in the data of 'archive/data/0'.
    inner = local_header('archive/data/1', FLOATS) + FLOATS
    outer_data = FLOATS + inner
    lh_pkl = len(local_header('archive/data.pkl', pkl)) + len(pkl)
    data0_start = lh_pkl + len(local_header('archive/data/0', outer_data))
    write('overlapping-entries.pt', build_zip([
        {'name': 'archive/data.pkl', 'data': pkl},
        {'name': 'archive/data/0', 'data': outer_data},
        {'name': 'archive/data/1', 'data': FLOATS, 'at': data0_start + len(FLOATS)},
        VERSION,
    ]))
    # 'archive/version' is the last entry before the central directory: claim 40 bytes more.
    write('entry-overlaps-central-directory.pt', build_zip([
        {'name': 'archive/data.pkl', 'data': pkl},
        {'name': 'archive/data/0', 'data': FLOATS},
        {'name': 'archive/version', 'data': b'3\n', 'size': 2 + 40},
    ]))

# ----------------------------------------------------------------------------------------------
# genuine torch.save output (needs torch)
# ----------------------------------------------------------------------------------------------

def torch_files():
    try:
        import torch
    except ImportError:
        print('torch is not installed: expanded-head.pt and the legacy files were not written (run with /usr/bin/python3)')
        return
    import collections
    torch.manual_seed(13)

    # tiny-grassmann's weights, read from its safetensors file without any library.
    st = os.path.join(ROOT, 'test', 'fixtures', 'tiny-grassmann', 'model.safetensors')
    with open(st, 'rb') as f:
        raw = f.read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    dtypes = {'F32': torch.float32, 'I64': torch.int64, 'F16': torch.float16, 'BF16': torch.bfloat16}
    sd = collections.OrderedDict()
    for name, h in header.items():
        if name == '__metadata__':
            continue
        a, b = h['data_offsets']
        t = torch.frombuffer(bytearray(raw[8 + n + a:8 + n + b]), dtype=dtypes[h['dtype']]).reshape(h['shape'])
        sd[name] = t.clone()
    vocab = 4 * 1024 * 1024
    emb = [k for k in sd if 'embed' in k and sd[k].shape[0] == 1200]
    heads = [k for k in sd if 'head' in k]
    d = sd[emb[0]].shape[1]
    for k in emb:
        sd[k] = sd[k][:1].clone().expand(vocab, d)
    head = heads[0] if heads else 'lm_head.weight'
    sd[head] = (torch.randn(1, d) * 0.02).expand(vocab, d)  # its own storage, not the embedding's
    assert sd[head].stride() == (0, 1) and sd[head].storage().size() == d
    torch.save(sd, os.path.join(OUT, 'expanded-head.pt'))
    print(f'expanded-head.pt: {os.path.getsize(os.path.join(OUT, "expanded-head.pt"))} bytes ({", ".join(emb + [head])} are [{vocab}, {d}] expands)')

    big = collections.OrderedDict()
    big['weight'] = torch.arange(16, dtype=torch.float32).reshape(4, 4)
    big['notes'] = 'grassmann ' * 200_000  # 2,000,000 characters
    torch.save(big, os.path.join(OUT, 'legacy-2mb-string.pt'), _use_new_zipfile_serialization=False)
    print(f'legacy-2mb-string.pt: {os.path.getsize(os.path.join(OUT, "legacy-2mb-string.pt"))} bytes')

    many = collections.OrderedDict()
    for i in range(12_000):
        many[f'blocks.{i}.a_rather_long_parameter_name.weight'] = torch.full((2,), float(i))
    torch.save(many, os.path.join(OUT, 'legacy-12k-tensors.pt'), _use_new_zipfile_serialization=False)
    print(f'legacy-12k-tensors.pt: {os.path.getsize(os.path.join(OUT, "legacy-12k-tensors.pt"))} bytes')

if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    zips()
    torch_files()
