function root = newton(f, df, x0, tol)
% NEWTON Find a root of f with Newton's method.
if nargin < 4
    tol = 1e-8;
end
root = x0;
for k = 1:100
    step = f(root) / df(root);
    root = root - step;
    if abs(step) < tol
        return;
    end
end
error('newton:noConvergence', 'did not converge');
end
