public static class Debug
{
    public static void Assert(bool condition) { Assert(condition, "Debug.Assert failed"); }
    public static void Assert(bool condition, string message)
    {
        if (!condition) { System.Console.Error.WriteLine("Assertion failed: " + message); System.Environment.Exit(1); }
    }
    public static void Assert(bool condition, string message, string detail) { Assert(condition, message + " " + detail); }
    public static void WriteLine(object value) { System.Console.Error.WriteLine(value); }
    public static void WriteLine(string format, params object[] args) { System.Console.Error.WriteLine(format, args); }
    public static void Write(object value) { System.Console.Error.Write(value); }
    public static void Fail(string message) { Assert(false, message); }
}
