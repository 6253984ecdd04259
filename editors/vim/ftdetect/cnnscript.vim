" cnnscript scripts
autocmd BufRead,BufNewFile *.cnn setfiletype cnnscript
