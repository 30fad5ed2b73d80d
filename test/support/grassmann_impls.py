#!/usr/bin/env python3
"""PyTorch models of two public GrassmannGPT code bases, written for this project's tests.

Written by us from the semantics in test/fixtures/implementations/README.md (not copied from either
code base); verified against the fixtures' reference taps with the `verify` verb.

  GrassLM  -- the `grasslm` package: tok_embed, pos_embed, blocks.{l}.mixing.plucker_encoder.{W_red,
              W_plu,idx_i,idx_j}, blocks.{l}.mixing.W_gate, blocks.{l}.ln1/ln2, blocks.{l}.ffn.{0,2},
              ln_final, lm_head (tied). m = LN1(a*h + (1-a)*g); out = LN2(m + FFN(m)); one window
              offset per block; g = W_plu p_hat + b where the offset is valid, 0 elsewhere; eps 1e-8.
  LMConfig -- the LMConfig reproduction, tensor_lifting_strategy="grassmann": token_embedding,
              position_embedding, transformer_blocks.{l}.attention.{reduce,expand,gate_proj,idx_i,
              idx_j}, transformer_blocks.{l}.attention_norm/ffn_norm, ffn.layers.{0,2}, output_norm,
              lm_head (no bias; tied when weight_tying). mix = sigmoid(gate_proj[x; g]) * g with
              g = expand(mean over valid lags of p_hat) (expand.bias where none is valid); eps 1e-6;
              pre_norm=False: x = LN_a(x + mix(x)); x = LN_f(x + FFN(x));
              pre_norm=True:  x = x + mix(LN_a(x)); x = x + FFN(LN_f(x)).

Command line (stable; other tests call it with execFileSync, python3 with torch, e.g. /usr/bin/python3):

  eval <grasslm|lmconfig> <checkpoint.pt> <ids.json> <seq_len> [--config <file.json|inline json>]
      Loads the state dict with load_state_dict(strict=True) (the wrapper's model_state_dict when the
      file is a dict holding one; a state dict whose every key starts with `module.` is loaded
      strictly into nn.DataParallel(model), as DataParallel users do). Constructor
      arguments: --config, else the checkpoint's own `config`, else config.json beside the checkpoint
      or one folder above. Sizes that pruning changes (d_ff / expansion, d_reduce / d_low, vocab) are
      read from the state dict per layer, so a pruned checkpoint builds a model of its own shapes;
      window_schedule, lags, pre_norm and weight_tying come from the config, and so does this
      project's per-block `layers` list ([{"window_sizes": [...]}, ...], written with pruned models:
      a block's window_sizes replaces its offsets; neither implementation has it). ids.json: a JSON array
      of token ids (the whole eval text encoded once). Protocol: non-overlapping chunks of seq_len,
      remainder dropped, mean next-token NLL over all chunks. Prints one JSON line:
      {"mean_nll", "perplexity", "chunks", "tokens", "kwargs", "config_source", "layer_sizes"}.
      Exit status 1 with the error on stderr when the load fails.

  make <grasslm|lmconfig> '<json kwargs>' <outdir> [--seed N] [--save plain|wrapped|plain-module-prefix|
       wrapped-module-prefix] [--config json|beside|inside|none] [--ids 2,5,7,...]... [--name file.pt]
      Writes a randomly initialised model (LayerNorm weights/biases and every bias random too) as
      <outdir>/checkpoints/<name> (default best_model.pt when wrapped, model.pt when plain), saved as
      that implementation's users save it: plain = torch.save(model.state_dict()); wrapped =
      {epoch, model_state_dict, optimizer_state_dict, config, val_loss, val_ppl}; *-module-prefix =
      the keys of nn.DataParallel(model).state_dict(). --config json writes <outdir>/config.json
      (one folder above the checkpoint, as the fixtures have it), beside writes
      <outdir>/checkpoints/config.json, inside keeps the kwargs only in the wrapper's `config`,
      none writes them nowhere (default: json; a wrapped save holds `config` unless none). Each --ids gives one
      reference case: <outdir>/reference/case{k}.safetensors with the shared tap names and
      <outdir>/reference/manifest.json ({implementation, constructor, cases: [{file, input_ids,
      float32_vs_float64}]}; the last is the largest gap of any tap between the float32 reference and
      the same model run in float64: how well conditioned the random model is).

  make-many <jobs.json>
      One interpreter for many models: jobs.json is a JSON array of
      {"impl", "kwargs", "outdir", "seed", "save", "config", "ids": [[...], ...], "name",
       "eval_ids": [...], "eval_seq_len": N}; with eval_ids, the saved file is loaded back strictly
      and scored with the eval protocol: manifest.json gets "eval": {mean_nll, perplexity, chunks,
      tokens, seq_len}.

  forward <grasslm|lmconfig> <checkpoint.pt> <out.safetensors> --ids 2,5,7 [--config ...]
      Loads like `eval` and writes the taps of one forward pass.

  verify <fixture-folder>
      Loads the fixture's checkpoint strictly into our module and prints the largest absolute error
      of every tap against reference/case*.safetensors (JSON).

Taps (one sequence, float32): layers.{l}.mix_in, .z, .plucker.{d} (rows t >= d), .g, .alpha, .mix_out,
.block_out; logits; nll (per position, next token).
"""
import copy
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

GRASSLM = 'grasslm'
LMCONFIG = 'lmconfig'


# ---------------------------------------------------------------------------------------------------
# safetensors (by hand: Debian's torch has no safetensors package)

def write_safetensors(path, tensors):
    header = {}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        a = t.detach().to(torch.float32).contiguous().cpu().numpy().astype('<f4')
        raw = a.tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(',', ':')).encode('utf8')
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    import numpy as np
    with open(path, 'rb') as f:
        data = f.read()
    n = struct.unpack('<Q', data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        assert info['dtype'] == 'F32', info['dtype']
        s, e = info['data_offsets']
        arr = np.frombuffer(data[8 + n + s:8 + n + e], dtype='<f4').reshape(info['shape'])
        out[name] = torch.from_numpy(arr.copy())
    return out


# ---------------------------------------------------------------------------------------------------
# shared pieces

def plucker(z, d, idx_i, idx_j, eps):
    """p_ij(t) = z_t,i z_{t-d},j - z_t,j z_{t-d},i for t >= d; normalised by max(||p||, eps).
    z: [B, T, r]; returns [B, T-d, P]."""
    a = z[:, d:]
    b = z[:, :-d]
    p = a[..., idx_i] * b[..., idx_j] - a[..., idx_j] * b[..., idx_i]
    return p / p.norm(dim=-1, keepdim=True).clamp(min=eps)


def _pairs(r):
    ij = torch.triu_indices(r, r, 1)
    return ij[0].clone(), ij[1].clone()


def _per_layer(v, n):
    return list(v) if isinstance(v, (list, tuple)) else [v] * n


def _block_windows(layers, default):
    """Grassmann Lens's own per-block config list (`layers`: [{"window_sizes": [...]}, ...], written
    for pruned models): a block's `window_sizes` replaces its windows. Not part of either
    implementation; ignored when absent."""
    if not isinstance(layers, list):
        return default
    assert len(layers) == len(default), 'config layers has %d entries for %d blocks' % (len(layers), len(default))
    return [list(e['window_sizes']) if isinstance(e, dict) and 'window_sizes' in e else default[l]
            for l, e in enumerate(layers)]


# ---------------------------------------------------------------------------------------------------
# GrassLM

def grasslm_default_schedule(n_layers):
    if n_layers == 6:
        return [1, 2, 4, 8, 12, 16]
    if n_layers == 12:
        return [1, 1, 2, 2, 4, 4, 8, 8, 12, 12, 16, 16]
    return [1] * n_layers


class PluckerEncoder(nn.Module):
    def __init__(self, d_model, d_reduce):
        super().__init__()
        self.W_red = nn.Linear(d_model, d_reduce)
        P = d_reduce * (d_reduce - 1) // 2
        self.W_plu = nn.Linear(P, d_model)
        i, j = _pairs(d_reduce)
        self.register_buffer('idx_i', i)
        self.register_buffer('idx_j', j)


class GrassLMMixing(nn.Module):
    EPS = 1e-8

    def __init__(self, d_model, d_reduce, windows):
        super().__init__()
        # GrassLM itself has one offset per block; a list only for a pruned block's config `layers`.
        self.windows = list(windows)
        self.plucker_encoder = PluckerEncoder(d_model, d_reduce)
        self.W_gate = nn.Linear(2 * d_model, d_model)

    def forward(self, h, taps=None, prefix=''):
        enc = self.plucker_encoder
        B, T, D = h.shape
        z = enc.W_red(h)
        acc = torch.zeros(B, T, D, dtype=h.dtype)
        count = torch.zeros(T, dtype=h.dtype)
        for d in self.windows:
            if not 0 < d < T:
                continue
            ph = plucker(z, d, enc.idx_i, enc.idx_j, self.EPS)
            acc[:, d:] += enc.W_plu(ph)
            count[d:] += 1
            if taps is not None:
                taps[prefix + 'plucker.%d' % d] = ph[0]
        g = acc / count.clamp(min=1).view(1, T, 1)
        alpha = torch.sigmoid(self.W_gate(torch.cat([h, g], dim=-1)))
        out = alpha * h + (1 - alpha) * g
        if taps is not None:
            taps[prefix + 'z'] = z[0]
            taps[prefix + 'g'] = g[0]
            taps[prefix + 'alpha'] = alpha[0]
        return out


class GrassLMBlock(nn.Module):
    def __init__(self, d_model, d_reduce, d_ff, windows):
        super().__init__()
        self.mixing = GrassLMMixing(d_model, d_reduce, windows)
        self.ln1 = nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
        self.ln2 = nn.LayerNorm(d_model)

    def forward(self, x, taps=None, prefix=''):
        if taps is not None:
            taps[prefix + 'mix_in'] = x[0]
        mo = self.mixing(x, taps, prefix)
        if taps is not None:
            taps[prefix + 'mix_out'] = mo[0]
        m = self.ln1(mo)
        out = self.ln2(m + self.ffn(m))
        if taps is not None:
            taps[prefix + 'block_out'] = out[0]
        return out


class GrassLM(nn.Module):
    """GrassLM(vocab_size, d_model, n_layers, d_reduce, d_ff, max_seq_len, window_schedule=None).
    d_reduce and d_ff may be per-layer lists (a pruned checkpoint)."""

    def __init__(self, vocab_size=1000, d_model=256, n_layers=6, d_reduce=32, d_ff=1024, max_seq_len=512,
                 window_schedule=None, layers=None, **_ignored):
        super().__init__()
        if window_schedule is None:
            window_schedule = grasslm_default_schedule(n_layers)
        assert len(window_schedule) == n_layers, 'window_schedule needs one offset per layer'
        self.window_schedule = list(window_schedule)
        block_windows = _block_windows(layers, [[w] for w in self.window_schedule])
        self.tok_embed = nn.Embedding(vocab_size, d_model)
        self.pos_embed = nn.Embedding(max_seq_len, d_model)
        rs = _per_layer(d_reduce, n_layers)
        fs = _per_layer(d_ff, n_layers)
        self.blocks = nn.ModuleList(
            [GrassLMBlock(d_model, rs[l], fs[l], block_windows[l]) for l in range(n_layers)])
        self.ln_final = nn.LayerNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        self.lm_head.weight = self.tok_embed.weight

    def forward(self, ids, taps=None):
        B, T = ids.shape
        x = self.tok_embed(ids) + self.pos_embed(torch.arange(T).unsqueeze(0))
        for l, blk in enumerate(self.blocks):
            x = blk(x, taps, 'layers.%d.' % l)
        return self.lm_head(self.ln_final(x))


# ---------------------------------------------------------------------------------------------------
# LMConfig reproduction

class LiftingAttention(nn.Module):
    EPS = 1e-6

    def __init__(self, d_model, d_low, lags):
        super().__init__()
        self.lags = list(lags)
        self.reduce = nn.Linear(d_model, d_low)
        P = d_low * (d_low - 1) // 2
        self.expand = nn.Linear(P, d_model)
        self.gate_proj = nn.Linear(2 * d_model, d_model)
        i, j = _pairs(d_low)
        self.register_buffer('idx_i', i)
        self.register_buffer('idx_j', j)

    def forward(self, x, taps=None, prefix=''):
        B, T, D = x.shape
        z = self.reduce(x)
        P = self.idx_i.shape[0]
        acc = torch.zeros(B, T, P, dtype=x.dtype)
        count = torch.zeros(T, dtype=x.dtype)
        for lag in self.lags:
            if lag <= 0 or lag >= T:
                continue
            ph = plucker(z, lag, self.idx_i, self.idx_j, self.EPS)
            acc[:, lag:] += ph
            count[lag:] += 1
            if taps is not None:
                taps[prefix + 'plucker.%d' % lag] = ph[0]
        g = self.expand(acc / count.clamp(min=1).view(1, T, 1))
        gate = torch.sigmoid(self.gate_proj(torch.cat([x, g], dim=-1)))
        if taps is not None:
            taps[prefix + 'z'] = z[0]
            taps[prefix + 'g'] = g[0]
            taps[prefix + 'alpha'] = gate[0]
        return gate * g


class FeedForward(nn.Module):
    def __init__(self, d_model, d_ff, dropout_rate):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model),
                                    nn.Dropout(dropout_rate))

    def forward(self, x):
        return self.layers(x)


class LiftingBlock(nn.Module):
    def __init__(self, d_model, d_low, d_ff, lags, dropout_rate, pre_norm):
        super().__init__()
        self.pre_norm = pre_norm
        self.attention_norm = nn.LayerNorm(d_model)
        self.attention = LiftingAttention(d_model, d_low, lags)
        self.ffn_norm = nn.LayerNorm(d_model)
        self.ffn = FeedForward(d_model, d_ff, dropout_rate)

    def forward(self, x, taps=None, prefix=''):
        def mix(inp):
            if taps is not None:
                taps[prefix + 'mix_in'] = inp[0]
            out = self.attention(inp, taps, prefix)
            if taps is not None:
                taps[prefix + 'mix_out'] = out[0]
            return out

        if self.pre_norm:
            x = x + mix(self.attention_norm(x))
            x = x + self.ffn(self.ffn_norm(x))
        else:
            x = self.attention_norm(x + mix(x))
            x = self.ffn_norm(x + self.ffn(x))
        if taps is not None:
            taps[prefix + 'block_out'] = x[0]
        return x


class LMConfigModel(nn.Module):
    """The model an LMConfig(...) builds with tensor_lifting_strategy="grassmann".
    d_low and the FFN width (d_model * expansion_ratio) may be per-layer lists via d_low / d_ff."""

    def __init__(self, vocab_size=1000, max_context_len=512, num_layers=4, tensor_lifting_strategy='grassmann',
                 lags=(1, 2, 4), d_model=256, num_heads=4, expansion_ratio=4, dropout_rate=0.1,
                 weight_tying=True, d_low=16, pre_norm=False, d_ff=None, layers=None, **_ignored):
        super().__init__()
        assert tensor_lifting_strategy == 'grassmann', tensor_lifting_strategy
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.position_embedding = nn.Embedding(max_context_len, d_model)
        lows = _per_layer(d_low, num_layers)
        ffs = _per_layer(d_ff if d_ff is not None else int(d_model * expansion_ratio), num_layers)
        block_lags = _block_windows(layers, [list(lags)] * num_layers)
        self.transformer_blocks = nn.ModuleList(
            [LiftingBlock(d_model, lows[l], ffs[l], block_lags[l], dropout_rate, pre_norm) for l in range(num_layers)])
        self.output_norm = nn.LayerNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        if weight_tying:
            self.lm_head.weight = self.token_embedding.weight

    def forward(self, ids, taps=None):
        B, T = ids.shape
        x = self.token_embedding(ids) + self.position_embedding(torch.arange(T).unsqueeze(0))
        for l, blk in enumerate(self.transformer_blocks):
            x = blk(x, taps, 'layers.%d.' % l)
        return self.lm_head(self.output_norm(x))


# ---------------------------------------------------------------------------------------------------
# building, loading, taps

def build(impl, kwargs):
    if impl == GRASSLM:
        return GrassLM(**kwargs)
    if impl == LMCONFIG:
        return LMConfigModel(**kwargs)
    raise SystemExit('unknown implementation %r (grasslm or lmconfig)' % impl)


def layer_sizes_from_state_dict(impl, sd):
    """Per-layer sizes pruning can change, read from tensor shapes: {vocab_size, d_model, reduce: [...], ff: [...]}."""
    if impl == GRASSLM:
        emb, blk, red, ff0 = 'tok_embed.weight', 'blocks.%d.', 'mixing.plucker_encoder.W_red.weight', 'ffn.0.weight'
    else:
        emb, blk, red, ff0 = ('token_embedding.weight', 'transformer_blocks.%d.', 'attention.reduce.weight',
                              'ffn.layers.0.weight')
    out = {'vocab_size': None, 'd_model': None, 'reduce': [], 'ff': []}
    if emb in sd:
        out['vocab_size'], out['d_model'] = [int(s) for s in sd[emb].shape]
    l = 0
    while (blk % l) + red in sd:
        out['reduce'].append(int(sd[(blk % l) + red].shape[0]))
        out['ff'].append(int(sd[(blk % l) + ff0].shape[0]) if (blk % l) + ff0 in sd else None)
        l += 1
    return out


def _uniform(xs):
    return xs[0] if xs and all(x == xs[0] for x in xs) else list(xs)


def kwargs_for_state_dict(impl, kwargs, sd):
    kw = dict(kwargs)
    s = layer_sizes_from_state_dict(impl, sd)
    if s['vocab_size'] is not None:
        kw['vocab_size'] = s['vocab_size']
        kw['d_model'] = s['d_model']
    if s['reduce'] and None not in s['ff']:
        if impl == GRASSLM:
            kw['d_reduce'] = _uniform(s['reduce'])
            kw['d_ff'] = _uniform(s['ff'])
        else:
            kw['d_low'] = _uniform(s['reduce'])
            ff = _uniform(s['ff'])
            if not (isinstance(ff, int) and ff == int(kw['d_model'] * kw.get('expansion_ratio', 4))):
                kw['d_ff'] = ff
    return kw, s


def load_checkpoint(path):
    try:
        return torch.load(path, map_location='cpu', weights_only=False)
    except TypeError:
        return torch.load(path, map_location='cpu')


def find_config_json(ckpt_path):
    d = os.path.dirname(os.path.abspath(ckpt_path))
    for folder in (d, os.path.dirname(d)):
        p = os.path.join(folder, 'config.json')
        if os.path.isfile(p):
            return p
    return None


def parse_config_arg(arg):
    if arg is None:
        return None
    if os.path.isfile(arg):
        with open(arg) as f:
            return json.load(f)
    return json.loads(arg)


def open_model(impl, ckpt_path, config_arg=None):
    obj = load_checkpoint(ckpt_path)
    if isinstance(obj, dict) and isinstance(obj.get('model_state_dict'), dict):
        sd = obj['model_state_dict']
    else:
        sd = obj
    kwargs, source = parse_config_arg(config_arg), '--config'
    if kwargs is None and isinstance(obj, dict) and isinstance(obj.get('config'), dict):
        kwargs, source = obj['config'], 'checkpoint'
    if kwargs is None:
        cj = find_config_json(ckpt_path)
        if cj is None:
            raise SystemExit('no constructor arguments: give --config, save them in the checkpoint, or put '
                             'config.json beside the checkpoint')
        with open(cj) as f:
            kwargs, source = json.load(f), cj
    prefixed = len(sd) > 0 and all(k.startswith('module.') for k in sd)
    plain_keys = {k[len('module.'):]: v for k, v in sd.items()} if prefixed else sd
    kw, sizes = kwargs_for_state_dict(impl, kwargs, plain_keys)
    torch.manual_seed(0)
    model = build(impl, kw)
    # A DataParallel save (every key under `module.`) loads into nn.DataParallel(model), as its users do.
    (nn.DataParallel(model) if prefixed else model).load_state_dict(sd, strict=True)
    model.eval()
    sizes['data_parallel'] = prefixed
    return model, kw, source, sizes


def taps_of(model, ids):
    taps = {}
    with torch.no_grad():
        x = torch.tensor([ids], dtype=torch.long)
        logits = model(x, taps)
        taps['logits'] = logits[0]
        taps['nll'] = F.cross_entropy(logits[0, :-1], x[0, 1:], reduction='none')
    return taps


def score_ids(model, ids, seq_len):
    n = len(ids) // seq_len
    if n == 0:
        raise SystemExit('fewer than seq_len=%d ids' % seq_len)
    total, count = 0.0, 0
    with torch.no_grad():
        for c in range(n):
            x = torch.tensor([ids[c * seq_len:(c + 1) * seq_len]], dtype=torch.long)
            logits = model(x)
            nll = F.cross_entropy(logits[0, :-1], x[0, 1:], reduction='sum')
            total += float(nll)
            count += seq_len - 1
    mean = total / count
    return {'mean_nll': mean, 'perplexity': math.exp(mean), 'chunks': n, 'tokens': count}


# ---------------------------------------------------------------------------------------------------
# random models

def randomise(model, seed):
    """Every parameter random, LayerNorm affine and biases included, so a wrong placement shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, mod in model.named_modules():
            if isinstance(mod, nn.LayerNorm):
                mod.weight.copy_(1 + 0.3 * torch.randn(mod.weight.shape, generator=g))
                mod.bias.copy_(0.3 * torch.randn(mod.bias.shape, generator=g))
            elif isinstance(mod, nn.Embedding):
                mod.weight.copy_(0.5 * torch.randn(mod.weight.shape, generator=g))
            elif isinstance(mod, nn.Linear):
                fan_in = mod.weight.shape[1]
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) / math.sqrt(fan_in))
                if mod.bias is not None:
                    mod.bias.copy_(0.3 * torch.randn(mod.bias.shape, generator=g))


def make(impl, kwargs, outdir, seed=0, save='plain', config='json', ids_list=(), name=None, eval_ids=None,
         eval_seq_len=None):
    torch.manual_seed(seed)
    model = build(impl, kwargs)
    randomise(model, seed)
    model.eval()
    os.makedirs(os.path.join(outdir, 'checkpoints'), exist_ok=True)
    wrapped = save.startswith('wrapped')
    prefix = save.endswith('module-prefix')
    if save not in ('plain', 'wrapped', 'plain-module-prefix', 'wrapped-module-prefix'):
        raise SystemExit('--save: plain, wrapped, plain-module-prefix or wrapped-module-prefix')
    sd = (nn.DataParallel(model) if prefix else model).state_dict()
    if prefix:
        assert all(k.startswith('module.') for k in sd)
    if wrapped:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        obj = {'epoch': 1, 'model_state_dict': sd, 'optimizer_state_dict': opt.state_dict(),
               'config': dict(kwargs) if config != 'none' else None,
               'val_loss': 1.0, 'val_ppl': math.e}
        if obj['config'] is None:
            del obj['config']
    else:
        if config == 'inside':
            raise SystemExit('--config inside needs a wrapped save')
        obj = sd
    fname = name or ('best_model.pt' if wrapped else 'model.pt')
    ckpt = os.path.join(outdir, 'checkpoints', fname)
    torch.save(obj, ckpt)
    if config not in ('json', 'beside', 'inside', 'none'):
        raise SystemExit('--config: json, beside, inside or none')
    if config in ('json', 'beside'):
        where = outdir if config == 'json' else os.path.join(outdir, 'checkpoints')
        with open(os.path.join(where, 'config.json'), 'w') as f:
            json.dump(kwargs, f, indent=1)
    cases = []
    if ids_list:
        os.makedirs(os.path.join(outdir, 'reference'), exist_ok=True)
        model64 = copy.deepcopy(model).double()
        for k, ids in enumerate(ids_list):
            f = 'reference/case%d.safetensors' % k
            taps = taps_of(model, list(ids))
            write_safetensors(os.path.join(outdir, f), taps)
            # How far float32 PyTorch itself is from float64: the conditioning of this random model.
            taps64 = taps_of(model64, list(ids))
            gap = max((float((taps[n].double() - taps64[n]).abs().max()) for n in taps if taps[n].numel()), default=0.0)
            cases.append({'file': f, 'input_ids': list(ids), 'float32_vs_float64': gap})
    manifest = {'implementation': impl, 'constructor': kwargs, 'checkpoint': 'checkpoints/' + fname,
                'save': save, 'config': config, 'seed': seed, 'cases': cases}
    if eval_ids is not None:
        # Scored by the model as loaded back from the saved file (strictly, as `eval` does).
        reloaded, _, _, _ = open_model(impl, ckpt, json.dumps(kwargs))
        for a, b in zip(model.state_dict().values(), reloaded.state_dict().values()):
            assert torch.equal(a, b), 'the saved checkpoint does not load back to the same weights'
        manifest["eval"] = score = score_ids(reloaded, list(eval_ids), int(eval_seq_len))
        score["seq_len"] = int(eval_seq_len)
    if cases or eval_ids is not None:
        os.makedirs(os.path.join(outdir, 'reference'), exist_ok=True)
        with open(os.path.join(outdir, 'reference', 'manifest.json'), 'w') as f:
            json.dump(manifest, f, indent=1)
    return ckpt


def verify(folder):
    with open(os.path.join(folder, 'reference', 'manifest.json')) as f:
        man = json.load(f)
    impl = GRASSLM if 'window_schedule' in man['constructor'] or 'd_reduce' in man['constructor'] else LMCONFIG
    cdir = os.path.join(folder, 'checkpoints')
    ckpt = os.path.join(cdir, sorted(os.listdir(cdir))[0])
    model, kw, source, _ = open_model(impl, ckpt)
    worst = {}
    for case in man['cases']:
        ref = read_safetensors(os.path.join(folder, case['file']))
        ours = taps_of(model, case['input_ids'])
        missing = sorted(set(ref) ^ set(ours))
        if missing:
            raise SystemExit('tap names differ: %s' % missing)
        for k, v in ref.items():
            kind = '.'.join(p for p in k.split('.') if not p.isdigit())
            e = float((ours[k] - v).abs().max()) if v.numel() else 0.0
            worst[kind] = max(worst.get(kind, 0.0), e)
    out = {'implementation': impl, 'checkpoint': ckpt, 'config_source': source, 'max_abs_error': worst}
    ev = man.get('eval')
    if ev:
        out['eval_reference_ppl'] = ev['perplexity']
    print(json.dumps(out))


# ---------------------------------------------------------------------------------------------------
# command line

def _opts(argv, spec):
    """spec: {'--seed': 'one', '--ids': 'many'}; returns (positional, options)."""
    pos, opts = [], {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in spec:
            if i + 1 >= len(argv):
                raise SystemExit('%s needs a value' % a)
            if spec[a] == 'many':
                opts.setdefault(a, []).append(argv[i + 1])
            else:
                opts[a] = argv[i + 1]
            i += 2
        else:
            pos.append(a)
            i += 1
    return pos, opts


def _ids(s):
    return [int(x) for x in s.split(',') if x.strip()]


def main(argv):
    if not argv or argv[0] in ('-h', '--help'):
        print(__doc__)
        return 0
    verb, rest = argv[0], argv[1:]
    if verb == 'eval':
        pos, o = _opts(rest, {'--config': 'one'})
        if len(pos) != 4:
            raise SystemExit('eval <grasslm|lmconfig> <checkpoint.pt> <ids.json> <seq_len> [--config ...]')
        impl, ckpt, ids_file, seq_len = pos
        model, kw, source, sizes = open_model(impl, ckpt, o.get('--config'))
        with open(ids_file) as f:
            ids = json.load(f)
        r = score_ids(model, ids, int(seq_len))
        r.update({'kwargs': kw, 'config_source': source, 'layer_sizes': sizes})
        print(json.dumps(r))
    elif verb == 'make':
        pos, o = _opts(rest, {'--seed': 'one', '--save': 'one', '--config': 'one', '--ids': 'many',
                              '--name': 'one'})
        if len(pos) != 3:
            raise SystemExit("make <grasslm|lmconfig> '<json kwargs>' <outdir> [options]")
        impl, kwargs, outdir = pos
        ckpt = make(impl, json.loads(kwargs), outdir, int(o.get('--seed', 0)), o.get('--save', 'plain'),
                    o.get('--config', 'json'), [_ids(s) for s in o.get('--ids', [])], o.get('--name'))
        print(json.dumps({'checkpoint': ckpt}))
    elif verb == 'make-many':
        with open(rest[0]) as f:
            jobs = json.load(f)
        made = []
        for j in jobs:
            made.append(make(j['impl'], j['kwargs'], j['outdir'], int(j.get('seed', 0)), j.get('save', 'plain'),
                             j.get('config', 'json'), j.get('ids', []), j.get('name'), j.get('eval_ids'),
                             j.get('eval_seq_len')))
        print(json.dumps({'checkpoints': made}))
    elif verb == 'forward':
        pos, o = _opts(rest, {'--config': 'one', '--ids': 'one'})
        impl, ckpt, out = pos
        model, _, _, _ = open_model(impl, ckpt, o.get('--config'))
        write_safetensors(out, taps_of(model, _ids(o['--ids'])))
    elif verb == 'verify':
        verify(rest[0])
    else:
        raise SystemExit('unknown verb %r: eval, make, make-many, forward, verify' % verb)
    return 0


if __name__ == '__main__':
    torch.set_num_threads(1)
    try:
        sys.exit(main(sys.argv[1:]))
    except (RuntimeError, KeyError, AssertionError, OSError) as e:
        sys.stderr.write('grassmann_impls.py: %s: %s\n' % (type(e).__name__, e))
        sys.exit(1)
