// Module hooks for register.mjs: WIT imports become stand-in modules.
const PREFIX = "encord-agent-native:";

export async function resolve(specifier, context, next) {
  if (/^(encord:agent|wasi:[a-z-]+)\//.test(specifier)) {
    return { url: PREFIX + encodeURIComponent(specifier), shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (url.startsWith(PREFIX)) {
    const name = JSON.stringify(decodeURIComponent(url.slice(PREFIX.length)));
    const source = `
const absent = (what) => () => {
  throw new Error(\`\${what} is not available outside a component: run the agent in runner-host\`);
};
export default new Proxy({}, { get: (_, key) => typeof key === "string" ? absent(${name} + "." + key) : undefined });
`;
    return { format: "module", source, shortCircuit: true };
  }
  return next(url, context);
}
