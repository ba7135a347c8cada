"""Drives torch.optim for test/safetensors.test.ts (gradients: grad.<t>.<i> in a safetensors file).

  continue.py resume STATE GRADS STEPS OUT
      Loads STATE (an engine's saveSafetensors()) into torch.optim, takes STEPS steps with the
      gradients grad.0.<i> ... grad.<STEPS-1>.<i>, writes the params as param.<i> to OUT.
  continue.py train INIT GRADS K M CLASS GROUPS_JSON STATE_OUT FINAL_OUT [table]
      Builds torch.optim.CLASS over the params param.<i> of INIT in the groups GROUPS_JSON (a list
      of group dicts whose 'params' lists are 0 .. n-1 in order), takes K steps, writes the
      optimizer in the flattened names to STATE_OUT, takes M more steps and writes the params to
      FINAL_OUT. With 'table', the one param is written as 'weight' (an engine Embedding's name).
  continue.py batch JOBS_JSON
      Runs each argument list of the JSON list JOBS_JSON as above, in this one process (importing
      torch takes seconds).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io as st  # noqa: E402
import torch  # noqa: E402


def run(params, opt, grads, first, steps):
    for t in range(first, first + steps):
        for i, p in enumerate(params):
            p.grad = grads['grad.%d.%d' % (t, i)].reshape(p.shape).clone()
        opt.step()


def params_out(params):
    return {'param.%d' % i: p.detach() for i, p in enumerate(params)}


def main(argv):
    torch.set_num_threads(1)
    if argv[1] == 'resume':
        tensors, meta = st.read(argv[2])
        grads, _ = st.read(argv[3])
        params, opt = st.optimizer_from_file(tensors, meta)
        run(params, opt, grads, 0, int(argv[4]))
        st.write(argv[5], params_out(params))
    elif argv[1] == 'train':
        init, _ = st.read(argv[2])
        grads, _ = st.read(argv[3])
        k, m = int(argv[4]), int(argv[5])
        cls = getattr(torch.optim, argv[6])
        spec = json.loads(argv[7])
        params = [torch.nn.Parameter(init['param.%d' % i].clone()) for i in range(len(init))]
        assert [i for g in spec for i in g['params']] == list(range(len(params))), 'groups must list 0 .. n-1 in order'
        opt = cls([{**g, 'params': [params[i] for i in g['params']]} for g in spec])
        run(params, opt, grads, 0, k)
        tensors, meta = st.optimizer_to_file(params, opt, table=len(argv) > 10 and argv[10] == 'table')
        st.write(argv[8], tensors, meta)
        run(params, opt, grads, k, m)
        st.write(argv[9], params_out(params))
    elif argv[1] == 'batch':
        with open(argv[2]) as f:
            jobs = json.load(f)
        for job in jobs:
            main([argv[0]] + job)
    else:
        raise SystemExit(__doc__)


if __name__ == '__main__':
    main(sys.argv)
