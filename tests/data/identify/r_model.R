fit_model <- function(data) {
  model <- lm(y ~ x1 + x2, data = data)
  list(coef = coef(model), r2 = summary(model)$r.squared)
}

set.seed(42)
d <- data.frame(x1 = rnorm(100), x2 = runif(100))
d$y <- 2 * d$x1 - d$x2 + rnorm(100, sd = 0.1)
str(fit_model(d))
