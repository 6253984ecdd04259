//! The smoke run CI does: a few hundred cases in-process, none failing, and
//! most generated valid scripts checking and running.

use std::time::Duration;

use crate::cases::{Kind, Origin, Plan};
use crate::harness::Stage;
use crate::runner::{Runner, Verdict};

#[test]
fn a_few_hundred_cases_pass_and_most_valid_scripts_run() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let plan = Plan::new(11, 200, 25);
    let mut runner = Runner::new(dir.path(), 256 << 20, Duration::from_secs(120)).expect("runner");
    let (mut valid, mut valid_ran, mut files) = (0, 0, 0);
    for index in 0..plan.total() {
        let case = plan.case(index);
        let shown = String::from_utf8_lossy(&case.bytes)
            .chars()
            .take(3000)
            .collect::<String>();
        match runner.run(&case) {
            Err(_) => panic!("case {index} hangs:\n{shown}"),
            Ok(Verdict::Failed(what, detail)) => {
                panic!("{what} in case {index}: {detail}\n--- case:\n{shown}")
            }
            Ok(Verdict::Script(stage)) if case.kind == Kind::Script(Origin::Valid) => {
                valid += 1;
                valid_ran += usize::from(stage == Stage::Ran);
            }
            Ok(Verdict::File(_)) => files += 1,
            Ok(_) => {}
        }
    }
    assert_eq!(files, 100);
    assert!(valid >= 40, "{valid} valid scripts");
    assert!(
        valid_ran * 10 >= valid * 7,
        "only {valid_ran} of {valid} valid scripts ran to the end"
    );
}

#[test]
fn case_numbers_give_the_same_bytes() {
    let plan = Plan::new(3, 50, 5);
    for index in [0, 17, 49, 50, 69] {
        assert_eq!(plan.case(index).bytes, plan.case(index).bytes);
        assert_eq!(plan.case(index).kind, plan.case(index).kind);
    }
    assert!(matches!(plan.case(50).kind, Kind::File(0)));
    assert!(matches!(plan.case(53).kind, Kind::File(3)));
}
