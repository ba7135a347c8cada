"""The safetensors format in a few lines of struct + json (no pip): read and write files of
torch tensors, and turn an optimizer's state_dict into the flattened names and back."""
import json
import struct

import torch

DTYPES = {'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16,
          'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8, 'U8': torch.uint8, 'BOOL': torch.bool}
NAMES = {v: k for k, v in DTYPES.items()}


def read(path):
    """Returns ({name: tensor}, metadata) of a safetensors file."""
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', {})
    data = raw[8 + n:]
    tensors = {}
    for name, e in header.items():
        begin, end = e['data_offsets']
        dtype = DTYPES[e['dtype']]
        chunk = bytearray(data[begin:end])
        t = torch.frombuffer(chunk, dtype=dtype) if chunk else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(e['shape']).clone()
    return tensors, meta


def write(path, tensors, meta=None):
    """Writes {name: tensor} (and a string map of metadata) as a safetensors file."""
    header = {'__metadata__': meta} if meta else {}
    chunks = []
    offset = 0
    for name, t in tensors.items():
        b = t.detach().contiguous().cpu().numpy().tobytes()
        header[name] = {'dtype': NAMES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(b)]}
        chunks.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(chunks))


def optimizer_from_file(tensors, meta):
    """The params (param.<i>) and a torch.optim optimizer holding the file's state and hyperparameters."""
    cls = getattr(torch.optim, meta['optimizer'])
    saved_groups = json.loads(meta['param_groups'])
    n = sum(len(g['params']) for g in saved_groups)
    # A table's file names its one param 'weight' (nn.Embedding's state_dict name).
    params = [torch.nn.Parameter(tensors['param.%d' % i if 'param.%d' % i in tensors else 'weight'].clone()) for i in range(n)]
    groups = [{**{k: v for k, v in g.items() if k != 'params'}, 'params': [params[i] for i in g['params']]} for g in saved_groups]
    opt = cls(groups)
    state = {}
    for name, t in tensors.items():
        parts = name.split('.')
        if parts[0] == 'state':
            state.setdefault(int(parts[1]), {})[parts[2]] = t
    opt.load_state_dict({'state': state, 'param_groups': saved_groups})
    return params, opt


def optimizer_to_file(params, opt, table=False):
    """The flattened tensors and metadata of a torch.optim optimizer (params as in its state_dict;
    with table=True its one param as 'weight', the name an engine Embedding reads)."""
    sd = opt.state_dict()
    ordered = [p for g in opt.param_groups for p in g['params']]
    tensors = {'param.%d' % i: p.detach().clone() for i, p in enumerate(ordered)}
    if table:
        tensors = {'weight': tensors.pop('param.0')}
    for i, st in sd['state'].items():
        for k, v in st.items():
            if v is None:
                continue
            tensors['state.%d.%s' % (i, k)] = v if torch.is_tensor(v) else torch.tensor(float(v))
    meta = {'format': 'pt', 'optimizer': type(opt).__name__, 'param_groups': json.dumps(sd['param_groups'])}
    return tensors, meta
