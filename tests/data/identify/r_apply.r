squares <- sapply(1:10, function(i) i^2)
m <- matrix(1:6, nrow = 2)
row_sums <- apply(m, 1, sum)
for (s in squares) {
  if (s %% 2 == 0) cat(s, "\n")
}
