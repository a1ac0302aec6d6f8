function [m, s] = stats(x)
%STATS Mean and standard deviation of a vector.
%   [M, S] = STATS(X) returns the mean M and standard deviation S of X.
n = length(x);
m = sum(x) / n;
s = sqrt(sum((x - m).^2) / n);
end
