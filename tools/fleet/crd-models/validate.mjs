// Validate custom resources against the CRD schemas the @kubernetes-models packages embed.
//
// stdin: a JSON array of objects. stdout: a JSON array, one entry per object, in order:
//   {"known": false}                      no installed package has this apiVersion/kind (the caller decides)
//   {"known": true, "errors": ["..."]}    [] when the object is valid
// Two passes per object: the model's .validate() (ajv over the CRD's openAPIV3Schema: types, enums, required,
// patterns), then a strict walk over the package's TypeScript declarations, because CRD schemas do not forbid
// unknown fields (the API server prunes them silently) and a misspelt field must fail, as kubeconform -strict does.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

const HERE = dirname(fileURLToPath(import.meta.url));
const PACKAGES = JSON.parse(readFileSync(join(HERE, "package.json"), "utf8")).dependencies;
const MODELS = Object.keys(PACKAGES).filter((name) => name.startsWith("@kubernetes-models/"));

// apiVersion "group/version" + kind -> the model's module path without extension, or null.
function modelPath(apiVersion, kind) {
  const [group, version] = String(apiVersion).split("/");
  if (!group || !version || !/^[A-Za-z0-9]+$/.test(String(kind))) return null;
  for (const pkg of MODELS) {
    const base = join(HERE, "node_modules", pkg, group, version, kind);
    if (existsSync(`${base}.js`) && existsSync(`${base}.d.ts`)) return base;
  }
  return null;
}

function ajvErrors(exc) {
  const list = Array.isArray(exc?.errors) ? exc.errors : [];
  if (!list.length) return [String(exc?.message ?? exc)];
  return list.map((e) => {
    const where = (e.instancePath || "").replace(/^\//, "").replaceAll("/", ".") || "(root)";
    const extra = e.params?.allowedValues ? ` (${e.params.allowedValues.join(", ")})` : "";
    return `${where}: ${e.message}${extra}`;
  });
}

// The interface I<Kind> declared in <base>.d.ts, as a checker type.
function declaredType(checker, program, base, kind) {
  const source = program.getSourceFile(`${base}.d.ts`);
  const module = source && checker.getSymbolAtLocation(source);
  const symbol = module && checker.getExportsOfModule(module).find((s) => s.name === `I${kind}`);
  return symbol ? checker.getDeclaredTypeOfSymbol(symbol) : null;
}

// Report every key the declarations do not know. Free-form parts (no declared properties, `any`, unions of
// several object shapes) are not descended into: the schema allows anything there.
function walk(checker, value, type, path, errors) {
  if (value === null || typeof value !== "object" || !type) return;
  let t = checker.getNonNullableType(type);
  if (t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return;
  if (t.isUnion()) {
    const shapes = t.types.filter((u) => u.flags & ts.TypeFlags.Object);
    if (shapes.length !== 1) return;
    t = shapes[0];
  }
  if (Array.isArray(value)) {
    if (checker.isArrayType(t)) {
      const element = checker.getTypeArguments(t)[0];
      value.forEach((item, i) => walk(checker, item, element, `${path}[${i}]`, errors));
    }
    return;
  }
  const indexType = checker.getIndexTypeOfType(t, ts.IndexKind.String);
  if (indexType) {
    for (const [key, item] of Object.entries(value)) walk(checker, item, indexType, `${path}.${key}`, errors);
    return;
  }
  const props = new Map(checker.getPropertiesOfType(t).map((p) => [p.name, p]));
  if (!props.size) return;
  for (const [key, item] of Object.entries(value)) {
    const prop = props.get(key);
    const where = path ? `${path}.${key}` : key;
    if (!prop) {
      const known = [...props.keys()].filter((k) => k !== "status").sort();
      errors.push(`${where}: unknown field (known here: ${known.join(", ")})`);
      continue;
    }
    walk(checker, item, checker.getTypeOfSymbol(prop), where, errors);
  }
}

const input = JSON.parse(readFileSync(0, "utf8"));
const bases = input.map((obj) => modelPath(obj?.apiVersion, obj?.kind));
const roots = [...new Set(bases.filter(Boolean).map((b) => `${b}.d.ts`))];
const program = ts.createProgram(roots, {
  noEmit: true,
  skipLibCheck: true,
  types: [],
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
});
const checker = program.getTypeChecker();
const out = [];
for (const [i, obj] of input.entries()) {
  const base = bases[i];
  if (!base) {
    out.push({ known: false });
    continue;
  }
  const errors = [];
  const module = await import(pathToFileURL(`${base}.js`).href);
  try {
    new module[obj.kind](obj).validate();
  } catch (exc) {
    errors.push(...ajvErrors(exc));
  }
  walk(checker, obj, declaredType(checker, program, base, obj.kind), "", errors);
  out.push({ known: true, errors });
}
process.stdout.write(JSON.stringify(out));
