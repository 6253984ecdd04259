use super::*;
use crate::syntax::ast::StmtKind;
use crate::syntax::parse::parse_script;

/// The optimizer word and options of a `train` line.
fn train(line: &str) -> (Ident, Vec<KeyValue>) {
    let script = parse_script(line).expect("parses");
    match &script.stmts[0].kind {
        StmtKind::Train {
            optimizer, options, ..
        } => (optimizer.clone(), options.clone()),
        other => panic!("not a train statement: {other:?}"),
    }
}

fn read(line: &str) -> Result<TrainPlan, OptionError> {
    let (opt, options) = train(line);
    plan(&opt, &options, Loss::Mse)
}

/// The error of `line`, with the text it points at.
fn mistake(line: &str) -> (OptionError, String) {
    let e = read(line).expect_err(line);
    let at = line[e.span.start..e.span.end].to_string();
    (e, at)
}

#[test]
fn reads_a_plan_with_defaults() {
    let p = read("train adam lr=0.01 b1=0.8 epochs=3 loss=xent log=2").expect("valid");
    match p.optimizer {
        Optimizer::Adam {
            lr, b1, b2, eps, ..
        } => {
            assert_eq!((lr, b1, b2, eps), (0.01, 0.8, 0.999, 1e-8));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.loss, Loss::Xent);
    assert!(matches!(
        p.schedule,
        Schedule::Epochs {
            epochs: 3,
            batch: 64
        }
    ));
    assert_eq!(p.log, Some(2));
    let p = read("train sgd lr=0.1 momentum=0.9 steps=5").expect("valid");
    assert!(matches!(p.optimizer, Optimizer::Sgd { momentum, .. } if momentum == 0.9));
    assert!(matches!(p.schedule, Schedule::Steps(5)));
    assert_eq!(p.loss, Loss::Mse, "the default loss is the caller's");
}

#[test]
fn every_option_in_the_table_is_read() {
    for spec in TRAIN_OPTIONS {
        let value = match spec.kind {
            OptionKind::Real(_) => "0.5",
            OptionKind::Count => "2",
            OptionKind::Word(words) => words[0],
            OptionKind::File => "\"a.safetensors\"",
        };
        let optimizer = match spec.reader {
            Reader::Only(o) => o,
            Reader::All => "sgd",
        };
        let schedule = match spec.name {
            "steps" | "lr" => "",
            "epochs" | "batch" => "epochs=1",
            _ => "steps=1",
        };
        let lr = if spec.name == "lr" {
            "steps=1"
        } else {
            "lr=0.1"
        };
        let line = format!("train {optimizer} {lr} {schedule} {}={value}", spec.name);
        let line = line.replace("epochs=1 epochs=2", "epochs=2");
        let line = line.replace("every=2", "every=2 checkpoint=\"c.safetensors\"");
        assert!(read(&line).is_ok(), "{line}: {:?}", read(&line).err());
    }
}

#[test]
fn names_are_checked_with_suggestions_and_fixes() {
    let (e, at) = mistake("train sgd lr=0.1 steps=3 learning_rate=0.1");
    assert_eq!(
        (e.message.as_str(), at.as_str()),
        ("unknown training option `learning_rate`", "learning_rate")
    );
    assert_eq!(e.help, "did you mean `lr`?");
    assert_eq!(e.fix.map(|f| f.replacement).as_deref(), Some("lr"));
    let (e, _) = mistake("train sgd lr=0.1 stpes=3");
    assert_eq!(e.help, "did you mean `steps`?");
    let (e, at) = mistake("train Adam lr=0.1 steps=3");
    assert_eq!(
        (e.message.as_str(), at.as_str()),
        ("unknown optimizer `Adam`", "Adam")
    );
    assert_eq!(e.fix.map(|f| f.replacement).as_deref(), Some("adam"));
    let (e, _) = mistake("train rmsprop lr=0.1 steps=3");
    assert!(
        e.fix.is_none() && e.help.contains("sgd and adam"),
        "{}",
        e.help
    );
    let (e, at) = mistake("train sgd lr=0.1 steps=3 loss=CrossEntropyLoss");
    assert_eq!(at, "CrossEntropyLoss");
    assert_eq!(e.fix.map(|f| f.replacement).as_deref(), Some("xent"));
    let (e, at) = mistake("train sgd lr=0.1 steps=3 loss=3");
    assert_eq!((e.message.as_str(), at.as_str()), ("unknown loss 3", "3"));
}

#[test]
fn options_belong_to_their_optimizer_and_come_once() {
    let (e, at) = mistake("train adam lr=0.1 momentum=0.9 steps=3");
    assert_eq!(at, "momentum");
    assert!(
        e.message.contains("option of sgd, not of adam"),
        "{}",
        e.message
    );
    let (e, _) = mistake("train sgd lr=0.1 b2=0.9 steps=3");
    assert!(
        e.message.contains("option of adam, not of sgd"),
        "{}",
        e.message
    );
    let (e, at) = mistake("train sgd lr=0.1 steps=3 steps=4");
    assert_eq!(
        (e.message.as_str(), at.as_str()),
        ("`steps` is given twice", "steps")
    );
}

#[test]
fn values_types_and_required_options() {
    let cases = [
        (
            "train sgd lr=0 steps=3",
            "`lr` must be positive, found 0",
            "0",
        ),
        (
            "train adam lr=0.1 b2=1 steps=3",
            "`b2` must be in [0, 1), found 1",
            "1",
        ),
        (
            "train sgd lr=0.1 momentum=-0.5 steps=3",
            "`momentum` must be 0 or more, found -0.5",
            "-0.5",
        ),
        (
            "train adam lr=0.1 eps=1e-50 steps=3",
            "`eps` must be positive, found 1e-50",
            "1e-50",
        ),
        (
            "train sgd lr=1e39 steps=3",
            "the number 1e39 is too large",
            "1e39",
        ),
        (
            "train sgd lr=fast steps=3",
            "`lr` must be a number, found `fast`",
            "fast",
        ),
        (
            "train sgd lr=0.1 steps=0",
            "`steps` must be a positive integer, found 0",
            "0",
        ),
        (
            "train sgd lr=0.1 epochs=2 batch=1.5",
            "`batch` must be a positive integer, found 1.5",
            "1.5",
        ),
        (
            "train sgd lr=0.1 steps=3 log=\"5\"",
            "`log` must be a positive integer, found \"5\"",
            "\"5\"",
        ),
        ("train sgd steps=3", "`train` needs a learning rate", "sgd"),
        ("train sgd lr=0.1", "`train` needs steps= or epochs=", "sgd"),
        (
            "train sgd lr=0.1 steps=3 epochs=2",
            "give either steps= or epochs=, not both",
            "sgd",
        ),
        (
            "train sgd lr=0.1 steps=3 batch=8",
            "`batch=` goes with `epochs=`",
            "batch",
        ),
    ];
    for (line, message, at) in cases {
        let (e, found) = mistake(line);
        assert!(e.message.starts_with(message), "{line}: {}", e.message);
        assert_eq!(found, at, "{line}");
    }
}

#[test]
fn reads_the_checkpoint_options() {
    let p = read(
        "train sgd lr=0.1 steps=10 checkpoint=\"a.safetensors\" every=5 resume=\"b.SafeTensors\"",
    )
    .expect("valid");
    let c = p.checkpoints;
    assert_eq!(c.save.map(|f| f.path).as_deref(), Some("a.safetensors"));
    assert_eq!(c.every, Some(5));
    assert_eq!(c.resume.map(|f| f.path).as_deref(), Some("b.SafeTensors"));
}

#[test]
fn each_checkpoint_mistake_is_reported_at_its_value() {
    let cases = [
        ("every=0", "`every` must be a positive integer", "0"),
        ("every=2.5", "`every` must be a positive integer", "2.5"),
        ("every=many", "`every` must be a positive integer", "many"),
        ("checkpoint=ck", "takes a file name in quotes", "ck"),
        (
            "checkpoint=\"ck.npz\"",
            "does not end in .safetensors",
            "\"ck.npz\"",
        ),
        ("resume=3", "`resume` takes a file name", "3"),
    ];
    for (opt, message, at) in cases {
        let line = format!("train sgd lr=0.1 steps=3 checkpoint=\"c.safetensors\" {opt}");
        let line = line.replacen("checkpoint=\"c.safetensors\" checkpoint", "checkpoint", 1);
        let (e, found) = mistake(&line);
        assert!(e.message.contains(message), "{opt}: {}", e.message);
        assert_eq!(found, at, "{opt}");
    }
}

#[test]
fn every_needs_a_checkpoint_file_and_names_are_checked() {
    let (e, at) = mistake("train sgd lr=0.1 steps=3 every=2");
    assert!(e.message.contains("no `checkpoint=`"), "{}", e.message);
    assert_eq!(at, "every");
    let (e, _) = mistake("train sgd lr=0.1 steps=3 every=2 checkpiont=\"c.safetensors\"");
    assert_eq!(e.help, "did you mean `checkpoint`?");
}
