/** Small dense-matrix helpers. */
public final class Matrix {
    private Matrix() {}

    /** Transpose a rectangular matrix. */
    public static int[][] transpose(int[][] m) {
        int rows = m.length, cols = m[0].length;
        int[][] t = new int[cols][rows];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                t[j][i] = m[i][j];
            }
        }
        return t;
    }

    /** Sum of the main diagonal of a square matrix. */
    public static int trace(int[][] m) {
        int sum = 0;
        for (int i = 0; i < m.length; i++) {
            sum += m[i][i];
        }
        return sum;
    }

    /** Index of the largest value in an array, or -1 for an empty array. */
    public static int argMax(int[] values) {
        int best = -1;
        for (int i = 0; i < values.length; i++) {
            if (best < 0 || values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }
}
