library(ggplot2)

df <- read.csv("measurements.csv", stringsAsFactors = FALSE)
df$ratio <- df$height / df$width

p <- ggplot(df, aes(x = width, y = height, colour = group)) +
  geom_point() +
  theme_minimal()
ggsave("plot.png", p)
