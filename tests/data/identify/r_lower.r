# Summarise a numeric vector
summarise <- function(x) {
  data.frame(
    mean = mean(x, na.rm = TRUE),
    sd = sd(x, na.rm = TRUE),
    n = sum(!is.na(x))
  )
}

values <- c(3.1, 4.5, NA, 2.2, 8.9)
print(summarise(values))
