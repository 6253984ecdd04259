# The helper functions train.py may use, one section per helper. cnnscript
# copies the sections a script needs (and those they need) into train.py, in
# this order. A section starts with `# @helper NAME: DEPS; IMPORTS` (the
# sections it uses and the modules it needs, both optional) and runs to the
# next one.

# @helper setup: ; argparse os sys torch dist load_file
WORLD = int(os.environ.get("WORLD_SIZE", "1"))  # processes; torchrun sets these
RANK = int(os.environ.get("RANK", "0"))
DEVICE = torch.device("cpu")
INIT = load_file(os.path.join(os.path.dirname(os.path.abspath(__file__)), "init.safetensors"))


def setup():
    """Choose the device (--device, default CUDA when available) and, under torchrun,
    join the process group: NCCL on CUDA, gloo on the CPU."""
    global DEVICE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when available)")
    args = parser.parse_args()
    DEVICE = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if DEVICE.type == "cuda":
        # full float32 products, as cnnscript computes them
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if WORLD > 1:
        if DEVICE.type == "cuda":
            DEVICE = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(DEVICE)
        dist.init_process_group("nccl" if DEVICE.type == "cuda" else "gloo")


def finish():
    """Leave the process group once every process is done."""
    if WORLD > 1:
        dist.barrier()
        dist.destroy_process_group()


def fail(message):
    """Stop with cnnscript's message (naming the process when there are several)."""
    where = f" (process {RANK} of {WORLD})" if WORLD > 1 else ""
    print(f"error{where}: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


# @helper drawn
def drawn(key):
    """A tensor cnnscript drew at random (rand, randn, split, shuffles), from init.safetensors."""
    return INIT[key].clone()


# @helper initial
def initial(prefix):
    """A model's initial tensors as cnnscript drew them (seeded), from init.safetensors."""
    start = prefix + "/"
    return {k[len(start):]: v for k, v in INIT.items() if k.startswith(start)}


# @helper print0
def print0(value):
    """cnnscript's `print`, on the first process only: tensors print as PyTorch prints
    them; a dict of arrays (a loaded .npz) lists each array's shape."""
    if RANK != 0:
        return
    if isinstance(value, dict):
        if not value:
            value = "(empty bundle)"
        else:
            value = "\n".join(
                f"{name}: {dims(v)}" + ("" if v.is_floating_point() else " (integer)")
                for name, v in sorted(value.items())
            )
    elif isinstance(value, torch.Size):
        # a shape prints as cnnscript writes dims, 6x8 (a scalar's as PyTorch does)
        value = "x".join(str(d) for d in value) if len(value) else value
    elif isinstance(value, tuple):
        value = "\n".join(str(v) for v in value)
    print(value, flush=True)


def dims(t):
    """A shape as cnnscript writes it: 6x8 (a scalar for rank 0)."""
    return "x".join(str(d) for d in t.shape) if t.dim() else "scalar"


# @helper as_float32
def as_float32(a):
    """cnnscript's tensor types: floats as float32, integers and booleans as int64."""
    a = torch.as_tensor(a)
    return a.float() if a.is_floating_point() else a.long()


# @helper load: as_float32; csv np
def load(path):
    """cnnscript's `load("file")`: a tensor (.npy, .csv without a label column) or a dict of
    named tensors (.npz, .safetensors, .csv with a `label` column)."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        return as_float32(np.load(path))
    if ext == ".npz":
        with np.load(path) as arrays:
            return {name: as_float32(arrays[name]) for name in sorted(arrays.files)}
    if ext == ".safetensors":
        return {name: as_float32(t) for name, t in sorted(load_file(path).items())}
    if ext == ".csv":
        return load_csv(path)
    fail(f"{path}: cannot read a .{ext[1:]} file (use .npy, .npz, .safetensors or .csv)")


def load_csv(path):
    """A numeric table; a header row is optional, and a `label` column becomes integer
    class labels: {x, y, label}."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = [[cell.strip() for cell in row] for row in csv.reader(f) if row]

    def number(cell):
        try:
            float(cell)
            return True
        except ValueError:
            return False

    header = [c.lower() for c in rows[0]] if not all(number(c) for c in rows[0]) else []
    body = rows[1:] if header else rows
    label = header.index("label") if "label" in header else None
    x = torch.tensor([[float(c) for i, c in enumerate(r) if i != label] for r in body])
    if label is None:
        return x
    y = torch.tensor([int(float(r[label])) for r in body])
    return {"label": y, "x": x, "y": y.clone()}


# @helper rows
def rows(value, index):
    """The rows `index` of a tensor, or of every array of a dict alike."""
    if isinstance(value, dict):
        return {name: rows(v, index) for name, v in value.items()}
    return value[index]


# @helper split: drawn, rows
def split(value, key):
    """cnnscript's `split(D, f)`: the seeded shuffle's first rows and the rest (their
    indices are in init.safetensors)."""
    return rows(value, drawn(key + ".first")), rows(value, drawn(key + ".rest"))


# @helper corr2d: ; F
def corr2d(x, k):
    """The chapter's 2-D cross-correlation of a matrix with a kernel."""
    return F.conv2d(x.float()[None, None], k.float()[None, None])[0, 0]


# @helper modules: ; torch nn F
# (layers applied as functions use torch.nn's modules; no code of their own)


# @helper with_weights: modules
def with_weights(layer, weight, bias=None):
    """cnnscript's `conv2d(X, K)` and `linear(X, W, B)`: the layer with its weights
    given as data, reshaped to the module's (a 2-D kernel is one channel's)."""
    layer.requires_grad_(False)
    layer.weight.copy_(weight.reshape(layer.weight.shape))
    if bias is not None:
        layer.bias.copy_(bias.reshape(layer.bias.shape))
    return layer


# @helper param
def param(model, name):
    """A copy of one of a model's tensors, by its state-dict name (`0.weight`)."""
    return model.state_dict()[name].detach().cpu().clone()


# @helper set_param
@torch.no_grad()
def set_param(model, name, value):
    """cnnscript's `m.0.weight = K`: the values copied into one of a model's tensors,
    by its state-dict name (the shapes agree: cnnscript checked them)."""
    model.state_dict()[name].copy_(value)


# @helper as_input
def as_input(model, x):
    """An input in the model's rank: HxW and CxHxW become 1x1xHxW and 1xCxHxW for image
    models, as cnnscript promotes them."""
    x = x.float()
    if len(type(model).input_shape) == 4 and x.dim() in (2, 3):
        x = x.reshape((1,) * (4 - x.dim()) + tuple(x.shape))
    return x


# @helper forward: as_input
@torch.no_grad()
def forward(model, x, layers=None):
    """cnnscript's `m(X)`: eval mode (dropout off, batchnorm's running statistics);
    `layers=K` runs the first K layers only (`m[0:K](X)`)."""
    model.eval()
    x = as_input(model, x).to(DEVICE)
    if layers is None:
        return model(x).cpu()
    for layer in list(model)[:layers]:
        x = layer(x)
    return x.cpu()


# @helper save: ; np save_file
def save(value, path):
    """cnnscript's `save`: a model's state dict (.safetensors, .npz) or a tensor (.npy,
    .npz, .safetensors, .csv), written whole (a temporary file, then a rename); on the
    first process only."""
    if RANK != 0:
        return
    if isinstance(value, torch.nn.Module):
        value = {name: t.detach().cpu() for name, t in value.state_dict().items()}
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy" and isinstance(value, dict):
        fail(f"{path}: .npy holds one array; save a bundle as .npz or .safetensors")
    if ext in (".npz", ".safetensors") and not isinstance(value, dict):
        value = {"arr_0" if ext == ".npz" else "tensor": value}
    folder, name = os.path.split(path)
    temp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    try:
        if ext == ".safetensors":
            save_file({k: v.contiguous() for k, v in value.items()}, temp)
        else:
            with open(temp, "wb") as f:
                if ext == ".npy":
                    np.save(f, value.numpy())
                elif ext == ".npz":
                    np.savez(f, **{k: v.numpy() for k, v in value.items()})
                elif ext == ".csv":
                    save_csv(f, value)
                else:
                    fail(f"{path}: cannot write a .{ext[1:]} file "
                         "(use .npy, .npz, .safetensors or .csv)")
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def save_csv(f, value):
    """Rank 1 (one value per line) or rank 2 tensors, or {x, y} as x columns plus `label`."""
    if isinstance(value, dict):
        x, y = value["x"], value["y"]
        x = x.reshape(len(x), -1)
        lines = [",".join([f"x{i}" for i in range(x.shape[1])] + ["label"])]
        lines += [",".join([cell(v) for v in r] + [str(int(l))]) for r, l in zip(x, y)]
    else:
        table = value.reshape(len(value), -1) if value.dim() else value.reshape(1, 1)
        lines = [",".join(cell(v) for v in r) for r in table]
    f.write(("\n".join(lines) + "\n").encode())


def cell(v):
    """A CSV cell as cnnscript writes it: the shortest text that reads back the same."""
    if not v.is_floating_point():
        return str(int(v))
    return np.format_float_positional(np.float32(v.item()), trim="-")


# @helper export_onnx: ; inspect os warnings torch
def export_onnx(model, path, example, input, output):
    """cnnscript's `export M "file.onnx"`: the model with its current weights as ONNX
    (opset 17), by torch.onnx.export traced on zeros of the `example` shape; `input`
    and `output` are (name, {axis: symbol}) as cnnscript names them, the symbols
    becoming dynamic axes. Written whole (a temporary file, then a rename), on the
    first process only."""
    if RANK != 0:
        return
    model.eval()
    x = torch.zeros(example, device=DEVICE)
    # the TorchScript exporter: dynamo's needs onnxscript, and says so in a warning
    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    folder, name = os.path.split(path)
    temp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (x,), temp, input_names=[input[0]], output_names=[output[0]],
                              dynamic_axes=dict([input, output]), opset_version=17, **legacy)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


# @helper assert_shape: forward
def assert_shape(model, example, output):
    """cnnscript's `assert shape M == DIMS`, which its checker proved for every size:
    here the module must give the `output` shape the checker infers for `example`."""
    got = tuple(forward(model, torch.zeros(example)).shape)
    if got != output:
        shown = lambda s: "x".join(str(d) for d in s)
        fail(f"assert shape: {type(model).__name__} gives {shown(got)} for an input of "
             f"{shown(example)}, not {shown(output)}")


# @helper assert_params
def assert_params(model, count):
    """cnnscript's `assert params M == N`: the module's learnable parameters."""
    got = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if got != count:
        fail(f"assert params: {type(model).__name__} has {got} learnable parameters, not {count}")


# @helper load_weights: load
def load_weights(model, path):
    """cnnscript's `load MODEL "file"`: strict, as load_state_dict (a missing, extra or
    misshapen tensor is an error naming it)."""
    tensors = load(path)
    state = model.state_dict()
    for name, t in tensors.items():
        if name in state and state[name].dim() == 0 and t.shape == (1,):
            tensors[name] = t.reshape(())  # num_batches_tracked saved as one element
    model.load_state_dict(tensors, strict=True)


# @helper train: as_input, print0; math time nn F DDP
def prepare(model, data, loss):
    """A data pair as cnnscript trains on it: inputs in the model's rank, targets as
    class labels (xent) or one row of values per input (sse, mse)."""
    if data is None:
        fail("no training data: declare it first with `data X -> Y`")
    x, y = data
    x = as_input(model, x)
    if loss == "xent":
        y = y.reshape(-1).long()
        if len(y) != len(x):
            fail(f"{len(x)} inputs but {len(y)} labels")
        return x, y
    if y.numel() % max(len(x), 1):
        fail(f"{len(x)} inputs but {y.numel()} target values")
    return x, y.float().reshape(len(x), -1)


def loss_sum(out, y, loss):
    """The sum of the items' losses, and the number of correct predictions (xent)."""
    if loss == "xent":
        if out.dim() != 2:
            fail(f"xent needs a model whose output is NxC (class scores), not {dims(out)}")
        return F.cross_entropy(out, y, reduction="sum"), (out.argmax(1) == y).sum()
    out = out.flatten(1)
    if out.shape != y.shape:
        fail(f"the targets have {y.shape[1]} values per item but the model gives {out.shape[1]}")
    err = out - y
    return (err * err).sum(), torch.zeros((), dtype=torch.long, device=out.device)


def parallel(model):
    """The model under DistributedDataParallel when several processes train."""
    if WORLD == 1 or not any(p.requires_grad for p in model.parameters()):
        return model
    if DEVICE.type == "cuda":
        # one set of batch statistics for the whole batch, as in one process
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DDP(model, device_ids=[DEVICE.index],
                   find_unused_parameters=hasattr(model, "unused_nodes"))
    return DDP(model, find_unused_parameters=hasattr(model, "unused_nodes"))


def update(net, optimizer, x, y, rows, loss, step):
    """One optimizer step on the global batch `rows`. This process takes the rows
    RANK, RANK + WORLD, ... (DistributedSampler's shard); its loss is scaled so that
    DDP's average of the processes' gradients is the whole batch's gradient. Returns
    the batch's loss (cnnscript's: mean for xent and mse, sum for sse) and its hits."""
    mine = rows[RANK::WORLD]
    out = net(x[mine].to(DEVICE))
    total, hits = loss_sum(out, y[mine].to(DEVICE), loss)
    per = 1 if loss == "sse" else len(rows) * (y.shape[1] if loss == "mse" else 1)
    stats = torch.stack([total.detach().double(), hits.double()])
    if WORLD > 1:
        dist.all_reduce(stats)
    value = stats[0].item() / per
    if not math.isfinite(value):
        fail(f"the loss became {'NaN' if value != value else 'infinite'} at step {step}")
    if optimizer is not None:
        optimizer.zero_grad()
        (total * (WORLD / per)).backward()
        for name, p in net.named_parameters():
            if p.grad is not None and not torch.isfinite(p.grad).all():
                name = name.removeprefix("module.")
                fail(f"the gradient of `{name}` became NaN or infinite at step {step}")
        optimizer.step()
    return value, int(stats[1].item())


def check_world(batch):
    """The script's batch is the global batch: every process gets the same share."""
    if batch % WORLD:
        fail(f"{WORLD} processes cannot share batches of {batch} rows equally; "
             f"use a process count that divides {batch}")


def train_steps(model, data, optimizer, loss, steps, log=None):
    """cnnscript's `train ... steps=K`: K full-batch steps; `log=L` prints the loss of
    every L-th step (its forward pass, before the update)."""
    x, y = prepare(model, data, loss)
    check_world(len(x))
    net = parallel(model)
    model.train()
    everything = torch.arange(len(x))
    for step in range(1, steps + 1):
        value, _ = update(net, optimizer, x, y, everything, loss, step)
        if log and step % log == 0:
            print0(f"Step {step}, loss {value:.3f}")


def train_epochs(model, data, test, optimizer, loss, batch, orders, log=None):
    """cnnscript's `train ... epochs=E batch=B`: each epoch visits the rows in cnnscript's
    shuffled order (`orders`, one row per epoch) in batches of B, and prints its loss,
    accuracies (xent) and time."""
    x, y = prepare(model, data, loss)
    batch = max(1, min(batch, len(x)))
    check_world(batch)
    net = parallel(model)
    step = 0
    for epoch, order in enumerate(orders, 1):
        started = time.perf_counter()
        model.train()
        loss_total, hits, seen = 0.0, 0, 0
        for start in range(0, len(order), batch):
            chunk = order[start:start + batch]
            step += 1
            value, correct = update(net, optimizer, x, y, chunk, loss, step)
            loss_total += value * len(chunk)
            hits += correct
            seen += len(chunk)
            if log and step % log == 0:
                print0(f"Step {step}, loss {value:.3f}")
        line = f"Epoch {epoch}, loss {loss_total / seen:.3f}"
        if loss == "xent":
            line += f", train acc {hits / seen:.3f}"
            if test is not None and RANK == 0:
                line += f", test acc {measure(model, test, 'xent')[1]:.3f}"
        print0(f"{line}, time {time.perf_counter() - started:.2f}s")


@torch.no_grad()
def measure(model, data, loss):
    """Mean loss (and accuracy, xent) of a model on a data pair, in eval mode."""
    model.eval()
    x, y = prepare(model, data, loss)
    total, hits = 0.0, 0
    for start in range(0, len(x), 512):
        out = model(x[start:start + 512].to(DEVICE))
        s, h = loss_sum(out, y[start:start + 512].to(DEVICE), loss)
        total += s.item()
        hits += int(h)
    per = len(x) * (y.shape[1] if loss == "mse" else 1)
    return total / per, (hits / len(x) if loss == "xent" else None)


# @helper evaluate: train
def evaluate(model, test, train):
    """cnnscript's `eval`: loss (and accuracy, for class labels) on the test pair, or on
    the training pair when there is none; on the first process only."""
    if RANK != 0:
        return
    data, which = (test, "test") if test is not None else (train, "train")
    if data is None:
        fail("no data to evaluate on: declare it first with `data test = X -> Y`")
    loss = "mse" if data[1].is_floating_point() else "xent"
    value, acc = measure(model, data, loss)
    line = f"loss {value:.3f}" + (f", {which} acc {acc:.3f}" if acc is not None else "")
    print(line, flush=True)
