% Plot a damped sine wave
t = linspace(0, 10, 500);
y = exp(-0.3 * t) .* sin(2 * pi * t);
figure;
plot(t, y, 'LineWidth', 2);
xlabel('time (s)');
ylabel('amplitude');
title('Damped oscillation');
grid on;
