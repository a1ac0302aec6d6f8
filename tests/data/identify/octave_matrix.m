A = [4 -2; 1 1];
[V, D] = eig(A);
disp(V);
disp(diag(D)');
x = A \ [2; 3];
printf("solution: %f %f\n", x(1), x(2));
