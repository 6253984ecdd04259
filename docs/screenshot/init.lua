-- Neovim set-up for the README screenshot: the plugin in editors/vim, line
-- numbers, diagnostics as virtual text.
vim.opt.runtimepath:prepend(vim.env.CNNSCRIPT_EDITORS .. '/vim')
vim.cmd('filetype plugin on')
vim.cmd('syntax on')
vim.o.number = true
vim.o.signcolumn = 'yes'
vim.o.background = 'dark'
vim.o.laststatus = 2
vim.o.ruler = false
vim.o.showmode = false
vim.diagnostic.config({ virtual_text = { prefix = '■' }, signs = true, underline = true })
require('cnnscript').setup({ cmd = { vim.env.CNNSCRIPT_BIN, 'lsp' } })
