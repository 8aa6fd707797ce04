// esbuild loads stylesheets imported by the components as text (scripts/dashboard.ts).
declare module "*.css" {
  const text: string
  export default text
}
