make probe      # concurrent /io, then concurrent /prime, on each worker model in waves (15 s)
