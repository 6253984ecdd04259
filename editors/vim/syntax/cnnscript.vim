" Vim syntax file for cnnscript (.cnn): statements, layers, shapes, strings, comments.
if exists('b:current_syntax')
  finish
endif

syntax keyword cnnKeyword let print save load seed model shape explain summary data train eval plot show assert export
syntax keyword cnnLayer conv maxpool avgpool gap linear flatten relu sigmoid tanh softmax dropout batchnorm
syntax keyword cnnBuiltin ones zeros full arange rand randn corr2d split reshape matmul cat stack conv2d
syntax keyword cnnMerge add concat
syntax keyword cnnConstant true false same valid default
" `Nx1x28x28`, `6x8`, `3x5`: dims and sizes
syntax match cnnDims /\<\%(\d\+\|[A-Z][A-Za-wyz0-9_]*\)\%(x\%(\d\+\|[A-Z][A-Za-wyz0-9_]*\)\)\+\>/
syntax match cnnNumber /\<\d\+\%(\.\d*\)\=\%([eE][+-]\=\d\+\)\=\>/
" `c1:` labels a layer
syntax match cnnLabel /\<\h\w*\ze\s*:\s*\h/
" `out=6`: an argument name
syntax match cnnArg /\<\h\w*\ze=[^=]/
syntax match cnnOperator /->\|==\|[-+*\/]/
syntax region cnnString start=/"/ skip=/\\./ end=/"\|$/ oneline
syntax match cnnComment /#.*$/ contains=@Spell

highlight default link cnnKeyword Keyword
highlight default link cnnLayer Function
highlight default link cnnBuiltin Function
highlight default link cnnMerge Function
highlight default link cnnConstant Constant
highlight default link cnnDims Type
highlight default link cnnNumber Number
highlight default link cnnLabel Label
highlight default link cnnArg Identifier
highlight default link cnnOperator Operator
highlight default link cnnString String
highlight default link cnnComment Comment

let b:current_syntax = 'cnnscript'
