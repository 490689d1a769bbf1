make lesson L=io
