//! Expected strings are what `print(t)` shows in PyTorch 2.x (default print options) for
//! the Python expression written above each case.

use ndarray::{ArrayD, IxDyn};

use super::{format_value, format_value_with_suffixes};
use crate::value::Value;

fn float(shape: &[usize], data: Vec<f32>) -> String {
    format_value(&Value::Float(
        ArrayD::from_shape_vec(IxDyn(shape), data).unwrap(),
    ))
}

fn int(shape: &[usize], data: Vec<i64>) -> String {
    format_value(&Value::Int(
        ArrayD::from_shape_vec(IxDyn(shape), data).unwrap(),
    ))
}

fn arange(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32).collect()
}

#[test]
fn integral_floats_print_with_a_trailing_dot() {
    // torch.tensor([[19., 25.], [37., 43.]])  (the d2l corr2d result)
    assert_eq!(
        float(&[2, 2], vec![19., 25., 37., 43.]),
        "tensor([[19., 25.],\n        [37., 43.]])"
    );
    // torch.tensor([-1., 2.])
    assert_eq!(float(&[2], vec![-1., 2.]), "tensor([-1.,  2.])");
    // torch.tensor([1., 1000.])  (ratio exactly 1000: not scientific)
    assert_eq!(float(&[2], vec![1., 1000.]), "tensor([   1., 1000.])");
    // torch.tensor([-0., 1.])
    assert_eq!(float(&[2], vec![-0., 1.]), "tensor([-0., 1.])");
}

#[test]
fn fractions_print_with_four_decimals() {
    // torch.tensor([0.12345, 1.0])
    assert_eq!(float(&[2], vec![0.12345, 1.0]), "tensor([0.1235, 1.0000])");
    // torch.tensor([[1.5, 2.0], [3.25, -4.0]])
    assert_eq!(
        float(&[2, 2], vec![1.5, 2.0, 3.25, -4.0]),
        "tensor([[ 1.5000,  2.0000],\n        [ 3.2500, -4.0000]])"
    );
    // torch.tensor([-0., 0.5]): the width counts nonzero values only, so no padding
    assert_eq!(float(&[2], vec![-0., 0.5]), "tensor([-0.0000, 0.5000])");
}

#[test]
fn scientific_notation_when_pytorch_uses_it() {
    // torch.tensor([1e5, 1.5])  (max/min > 1000)
    assert_eq!(
        float(&[2], vec![1e5, 1.5]),
        "tensor([1.0000e+05, 1.5000e+00])"
    );
    // torch.tensor([1e-5, 1.])  (min < 1e-4)
    assert_eq!(
        float(&[2], vec![1e-5, 1.]),
        "tensor([1.0000e-05, 1.0000e+00])"
    );
    // torch.tensor([1e8, 1.])  (integral, ratio > 1000)
    assert_eq!(
        float(&[2], vec![1e8, 1.]),
        "tensor([1.0000e+08, 1.0000e+00])"
    );
    // torch.tensor(1e-5)
    assert_eq!(float(&[], vec![1e-5]), "tensor(1.0000e-05)");
}

#[test]
fn nan_and_infinities() {
    // torch.tensor([float('nan'), 1.5])
    assert_eq!(float(&[2], vec![f32::NAN, 1.5]), "tensor([   nan, 1.5000])");
    // torch.tensor([float('inf'), -float('inf'), 1.])
    assert_eq!(
        float(&[3], vec![f32::INFINITY, f32::NEG_INFINITY, 1.]),
        "tensor([inf, -inf, 1.])"
    );
    // torch.tensor(float('nan'))
    assert_eq!(float(&[], vec![f32::NAN]), "tensor(nan)");
}

#[test]
fn scalars_and_empty_tensors() {
    // torch.tensor(3.)
    assert_eq!(float(&[], vec![3.]), "tensor(3.)");
    // torch.tensor(0.)
    assert_eq!(float(&[], vec![0.]), "tensor(0.)");
    // torch.tensor([])
    assert_eq!(float(&[0], vec![]), "tensor([])");
    // torch.zeros(0, 3)
    assert_eq!(float(&[0, 3], vec![]), "tensor([], size=(0, 3))");
    // torch.tensor([], dtype=torch.int64)
    assert_eq!(int(&[0], vec![]), "tensor([], dtype=torch.int64)");
    // torch.tensor(7)
    assert_eq!(int(&[], vec![7]), "tensor(7)");
}

#[test]
fn integer_tensors() {
    // torch.tensor([1, 2, 3])
    assert_eq!(int(&[3], vec![1, 2, 3]), "tensor([1, 2, 3])");
    // torch.tensor([1, -10, 100])
    assert_eq!(int(&[3], vec![1, -10, 100]), "tensor([  1, -10, 100])");
    // torch.arange(2000)
    assert_eq!(
        int(&[2000], (0..2000).collect()),
        "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"
    );
}

#[test]
fn nesting_puts_rank_minus_one_newlines_between_blocks() {
    // torch.ones(1, 1, 2, 2)
    assert_eq!(
        float(&[1, 1, 2, 2], vec![1.; 4]),
        "tensor([[[[1., 1.],\n          [1., 1.]]]])"
    );
    // torch.arange(12.).reshape(2, 2, 3)
    assert_eq!(
        float(&[2, 2, 3], arange(12)),
        "tensor([[[ 0.,  1.,  2.],\n         [ 3.,  4.,  5.]],\n\n        [[ 6.,  7.,  8.],\n         [ 9., 10., 11.]]])"
    );
    // torch.arange(8.).reshape(2, 1, 2, 2)
    assert_eq!(
        float(&[2, 1, 2, 2], arange(8)),
        "tensor([[[[0., 1.],\n          [2., 3.]]],\n\n\n        [[[4., 5.],\n          [6., 7.]]]])"
    );
}

#[test]
fn long_rows_wrap_at_eighty_columns() {
    // torch.arange(20.)
    assert_eq!(
        float(&[20], arange(20)),
        "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n        14., 15., 16., 17., 18., 19.])"
    );
}

#[test]
fn more_than_a_thousand_elements_are_summarised() {
    // torch.zeros(2000)
    assert_eq!(
        float(&[2000], vec![0.; 2000]),
        "tensor([0., 0., 0.,  ..., 0., 0., 0.])"
    );
    // torch.arange(10000.).reshape(100, 100)
    let expected = "\
tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 9.7000e+01, 9.8000e+01,
         9.9000e+01],
        [1.0000e+02, 1.0100e+02, 1.0200e+02,  ..., 1.9700e+02, 1.9800e+02,
         1.9900e+02],
        [2.0000e+02, 2.0100e+02, 2.0200e+02,  ..., 2.9700e+02, 2.9800e+02,
         2.9900e+02],
        ...,
        [9.7000e+03, 9.7010e+03, 9.7020e+03,  ..., 9.7970e+03, 9.7980e+03,
         9.7990e+03],
        [9.8000e+03, 9.8010e+03, 9.8020e+03,  ..., 9.8970e+03, 9.8980e+03,
         9.8990e+03],
        [9.9000e+03, 9.9010e+03, 9.9020e+03,  ..., 9.9970e+03, 9.9980e+03,
         9.9990e+03]])";
    assert_eq!(float(&[100, 100], arange(10000)), expected);
    // torch.ones(10, 10, 11): rows of 11 are summarised too
    let text = float(&[10, 10, 11], vec![1.; 1100]);
    assert!(text.starts_with(
        "tensor([[[1., 1., 1.,  ..., 1., 1., 1.],\n         [1., 1., 1.,  ..., 1., 1., 1.],"
    ));
    assert!(text.contains("],\n\n        ...,\n\n        [["), "{text}");
}

#[test]
fn bundles_list_their_arrays() {
    use std::collections::BTreeMap;
    let bundle = Value::Bundle(BTreeMap::from([
        (
            "x".to_string(),
            Value::Float(ArrayD::zeros(IxDyn(&[3, 1, 8, 8]))),
        ),
        ("y".to_string(), Value::Int(ArrayD::zeros(IxDyn(&[3])))),
    ]));
    assert_eq!(format_value(&bundle), "x: 3x1x8x8\ny: 3 (integer)");
}

#[test]
fn integer_and_nested_rows_wrap_too() {
    // torch.arange(30)
    assert_eq!(
        int(&[30], (0..30).collect()),
        "tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,\n        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29])"
    );
    // torch.arange(40.).reshape(2, 20)
    assert_eq!(
        float(&[2, 20], arange(40)),
        "tensor([[ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n         14., 15., 16., 17., 18., 19.],\n        [20., 21., 22., 23., 24., 25., 26., 27., 28., 29., 30., 31., 32., 33.,\n         34., 35., 36., 37., 38., 39.]])"
    );
}

#[test]
fn suffixes_follow_the_data() {
    let v = Value::Float(ArrayD::from_shape_vec(IxDyn(&[2]), vec![1.0, 2.0]).unwrap());
    // torch.tensor([1., 2.], requires_grad=True)
    assert_eq!(
        format_value_with_suffixes(&v, &["requires_grad=True"]),
        "tensor([1., 2.], requires_grad=True)"
    );
    // torch.arange(20., requires_grad=True): the suffix fits on the last line
    let v = Value::Float(ArrayD::from_shape_vec(IxDyn(&[20]), arange(20)).unwrap());
    assert!(format_value_with_suffixes(&v, &["requires_grad=True"])
        .ends_with("18., 19.], requires_grad=True)"));
    // torch.arange(14., requires_grad=True): a full line pushes the suffix onto its own line
    let v = Value::Float(ArrayD::from_shape_vec(IxDyn(&[14]), arange(14)).unwrap());
    assert_eq!(
        format_value_with_suffixes(&v, &["requires_grad=True"]),
        "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.],\n       requires_grad=True)"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn tensor() -> impl Strategy<Value = (Vec<usize>, Vec<f32>)> {
        proptest::collection::vec(0usize..5, 0..5).prop_flat_map(|shape| {
            let n: usize = shape.iter().product();
            let values = proptest::collection::vec(
                prop_oneof![
                    any::<f32>(),
                    (-1000i32..1000).prop_map(|v| v as f32),
                    (-1.0f32..1.0),
                ],
                n,
            );
            (Just(shape), values)
        })
    }

    proptest! {
        #[test]
        fn any_float_tensor_prints_every_element_once((shape, data) in tensor()) {
            let text = float(&shape, data.clone());
            prop_assert!(text.starts_with("tensor(") && text.ends_with(')'));
            if !data.is_empty() {
                let body = text.trim_start_matches("tensor(").trim_end_matches(')');
                let cells = body
                    .split([',', '[', ']', '\n'])
                    .filter(|c| !c.trim().is_empty())
                    .count();
                prop_assert_eq!(cells, data.len(), "{}", text);
            }
        }

        #[test]
        fn any_int_tensor_prints((shape, data) in tensor()) {
            let ints: Vec<i64> = data.iter().map(|v| if v.is_finite() { *v as i64 } else { 0 }).collect();
            let text = int(&shape, ints);
            prop_assert!(text.starts_with("tensor(") && text.ends_with(')'));
        }
    }
}

#[test]
fn shapes_print_as_dims_and_a_0d_shape_as_pytorch_prints_it() {
    // ones(2, 3).shape; ones(2, 3).sum().shape is torch.Size([])
    assert_eq!(format_value(&Value::Dims(vec![2, 3])), "2x3");
    assert_eq!(format_value(&Value::Dims(vec![])), "torch.Size([])");
}
