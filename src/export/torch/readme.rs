//! README.md of the project: what each file holds and the commands.

use super::model::ModelClass;
use crate::syntax::ast::{Script, StmtKind};

/// The README for a script exported to `dir` (as written from the script's folder).
pub fn readme(file: &str, dir: &str, models: &[ModelClass], script: &Script) -> String {
    let mut s = format!(
        "# {file} in PyTorch\n\n\
         Written by `cnnscript export {file} --torch {dir}`. Edit freely: export again\n\
         with `--force` to overwrite these four files.\n\n\
         | file | holds |\n|---|---|\n\
         | `model.py` | one `torch.nn.Module` per model; `state_dict` keys are cnnscript's parameter names |\n\
         | `train.py` | the script's statements in order, each under a comment quoting its line |\n\
         | `init.safetensors` | the numbers cnnscript drew at random: initial weights, `rand`/`randn`, `split` rows, epoch orders |\n\
         | `README.md` | this file |\n\n"
    );
    if !models.is_empty() {
        s.push_str("Models: ");
        let list: Vec<String> = models
            .iter()
            .map(|m| format!("`{}` (class `{}`)", m.ir.name, m.class))
            .collect();
        s.push_str(&list.join(", "));
        s.push_str(".\n\n");
    }
    s.push_str(&format!(
        "## Run\n\n\
         From the script's folder (the files the script reads and writes are relative to it),\n\
         with a Python that has `torch`, `numpy` and `safetensors`:\n\n\
         ```\n\
         python {dir}/train.py                          # CUDA when available, else the CPU\n\
         python {dir}/train.py --device cpu\n\
         torchrun --nproc_per_node=2 {dir}/train.py     # DistributedDataParallel, 2 processes\n\
         ```\n\n\
         One process prints what `cnnscript run {file}` prints (the `Step`, `Epoch` and\n\
         `eval` lines equal within float tolerance, though over long training the two\n\
         implementations' rounding differences compound; `print` is PyTorch's own) and\n\
         writes the same files.\n\n\
         Under `torchrun` each process trains on its share of every batch (a\n\
         `DistributedSampler`-style shard: rows `rank`, `rank + K`, ...), the script's\n\
         `batch` stays the global batch (the process count must divide it) and the\n\
         gradients are the whole batch's, as in one process. Only the first process\n\
         prints, evaluates and saves. Backends: gloo on the CPU, NCCL on CUDA.\n\n\
         ## Differences from cnnscript\n\n\
         - Dropout masks are PyTorch's draws (`seed` seeds them), not cnnscript's.\n\
         - With several processes on the CPU, batchnorm normalises each process's\n  \
         share with its own statistics (PyTorch's `SyncBatchNorm` needs CUDA, where\n  \
         it is used).\n"
    ));
    let pictures = script
        .stmts
        .iter()
        .any(|s| matches!(s.kind, StmtKind::Plot { .. } | StmtKind::Show { .. }));
    let exports = script
        .stmts
        .iter()
        .any(|s| matches!(s.kind, StmtKind::Export { .. }));
    if exports {
        s.push_str(
            "- `export MODEL \"file.onnx\"` is PyTorch's `torch.onnx.export` (opset 17,\n  \
             traced once on zeros): the same input and output names and symbolic sizes\n  \
             as cnnscript's file and the same values, though not the same nodes.\n",
        );
    }
    if pictures {
        s.push_str(
            "- `plot` and `show` are not run here: cnnscript draws the pictures. Load the\n  \
             saved weights into cnnscript (`load MODEL \"file.safetensors\"`) and `show` or\n  \
             `summary` them there.\n",
        );
    }
    s.push_str(
        "\n## Back to cnnscript\n\n\
         Weights saved here (`save MODEL \"file.safetensors\"` in train.py) load into\n\
         cnnscript with `load MODEL \"file.safetensors\"`, and weights cnnscript saved load\n\
         here with `model.load_state_dict(safetensors.torch.load_file(path))`.\n",
    );
    s
}
