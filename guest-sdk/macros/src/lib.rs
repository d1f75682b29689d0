//! `#[stage("name")]`: turns a plain function into an agent stage handler.
//!
//! The function is left as it is (callable directly). Beside it the macro
//! emits a marker type of the same name (types and functions live in
//! different namespaces) implementing `StageHandler`, whose definition
//! extracts each parameter through `FromContext`, derives the stage's needs
//! from the parameter types, and converts the return value with
//! `IntoOutcome`. Misuse is reported at the offending code.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Expr, ExprArray, ExprLit, FnArg, ItemFn, Lit, LitStr, Pat, ReturnType, Token, Type};

/// Marks a function as the handler of an agent stage (its title or uuid).
///
/// Options: `pathways = ["a", "b"]` (checked against the workflow before any
/// task runs), and the label-row options of encord-agents by their names:
/// `include_workflow_graph_node`, `include_client_metadata`,
/// `include_images_data`, `include_all_label_branches`, `include_children`,
/// `include_reviews`, `include_signed_url` (bools), `branch_name = "..."`,
/// `include_object_feature_hashes = [...]`,
/// `include_classification_feature_hashes = [...]`.
#[proc_macro_attribute]
pub fn stage(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = syn::parse_macro_input!(attr as StageArgs);
    let func = syn::parse_macro_input!(item as ItemFn);
    match expand(args, func) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

struct StageArgs {
    stage: LitStr,
    options: Vec<(syn::Ident, Expr)>,
}

impl Parse for StageArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "#[stage] needs the stage's title or uuid: #[stage(\"pre-label\")]",
            ));
        }
        let stage: LitStr = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "the first argument of #[stage] is the stage's title or uuid, as a string literal",
            )
        })?;
        if stage.value().trim().is_empty() {
            return Err(syn::Error::new(
                stage.span(),
                "the stage title or uuid must not be empty",
            ));
        }
        let mut options = Vec::new();
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let name: syn::Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let value: Expr = input.parse()?;
            options.push((name, value));
        }
        Ok(StageArgs { stage, options })
    }
}

const BOOL_OPTIONS: &[&str] = &[
    "include_workflow_graph_node",
    "include_client_metadata",
    "include_images_data",
    "include_all_label_branches",
    "include_children",
    "include_reviews",
    "include_signed_url",
];

fn string_list(value: &Expr) -> syn::Result<Vec<LitStr>> {
    let Expr::Array(ExprArray { elems, .. }) = value else {
        return Err(syn::Error::new(
            value.span(),
            "expected a list of string literals: [\"a\", \"b\"]",
        ));
    };
    elems
        .iter()
        .map(|e| match e {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Ok(s.clone()),
            other => Err(syn::Error::new(other.span(), "expected a string literal")),
        })
        .collect()
}

fn expand(args: StageArgs, func: ItemFn) -> syn::Result<TokenStream2> {
    let sig = &func.sig;
    if let Some(a) = &sig.asyncness {
        return Err(syn::Error::new(
            a.span(),
            "stage handlers are plain functions: remove `async`",
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "stage handlers cannot be generic",
        ));
    }
    let name = &sig.ident;
    let vis = &func.vis;

    let mut types: Vec<&Type> = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                return Err(syn::Error::new(
                    r.span(),
                    "stage handlers are free functions, not methods: remove `self`",
                ))
            }
            FnArg::Typed(pt) => {
                if let Type::Reference(r) = pt.ty.as_ref() {
                    return Err(syn::Error::new(
                        r.span(),
                        "stage handler parameters are taken by value: drop the `&` (e.g. `row: LabelRow`)",
                    ));
                }
                if !matches!(
                    pt.pat.as_ref(),
                    Pat::Ident(_) | Pat::Wild(_) | Pat::TupleStruct(_) | Pat::Struct(_)
                ) {
                    return Err(syn::Error::new(
                        pt.pat.span(),
                        "unsupported parameter pattern",
                    ));
                }
                types.push(pt.ty.as_ref());
            }
        }
    }

    let mut pathways: Vec<LitStr> = Vec::new();
    let mut bools: Vec<TokenStream2> = Vec::new();
    let mut branch_name = quote!(::core::option::Option::None);
    let mut object_hashes = quote!(::core::option::Option::None);
    let mut class_hashes = quote!(::core::option::Option::None);
    for (key, value) in &args.options {
        let k = key.to_string();
        if k == "pathways" {
            pathways = string_list(value)?;
        } else if BOOL_OPTIONS.contains(&k.as_str()) {
            match value {
                Expr::Lit(ExprLit {
                    lit: Lit::Bool(b), ..
                }) => bools.push(quote!(#key: #b,)),
                other => {
                    return Err(syn::Error::new(
                        other.span(),
                        format!("`{k}` takes `true` or `false`"),
                    ))
                }
            }
        } else if k == "branch_name" {
            match value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => branch_name = quote!(::core::option::Option::Some(#s)),
                other => {
                    return Err(syn::Error::new(
                        other.span(),
                        "`branch_name` takes a string literal",
                    ))
                }
            }
        } else if k == "include_object_feature_hashes"
            || k == "include_classification_feature_hashes"
        {
            let list = string_list(value)?;
            let tokens = quote!(::core::option::Option::Some(&[#(#list),*]));
            if k == "include_object_feature_hashes" {
                object_hashes = tokens;
            } else {
                class_hashes = tokens;
            }
        } else {
            let mut valid: Vec<&str> = vec![
                "pathways",
                "branch_name",
                "include_object_feature_hashes",
                "include_classification_feature_hashes",
            ];
            valid.extend(BOOL_OPTIONS);
            return Err(syn::Error::new(
                key.span(),
                format!(
                    "unknown #[stage] option `{k}`; valid options are: {}",
                    valid.join(", ")
                ),
            ));
        }
    }

    let krate = quote!(::encord_agent_sdk);
    let needs = types
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> <#ty as #krate::FromContext>::needs(needs);));
    let args_idents: Vec<syn::Ident> = (0..types.len())
        .map(|i| syn::Ident::new(&format!("arg{i}"), Span::call_site()))
        .collect();
    let extracts = types.iter().zip(&args_idents).map(|(ty, id)| {
        quote_spanned!(ty.span()=> let #id = <#ty as #krate::FromContext>::from_context(cx)?;)
    });
    let call = quote!(#name(#(#args_idents),*));
    let convert = match &sig.output {
        ReturnType::Default => quote!(#krate::IntoOutcome::into_outcome({ #call; })),
        ReturnType::Type(_, ty) => {
            quote_spanned!(ty.span()=> <#ty as #krate::IntoOutcome>::into_outcome(#call))
        }
    };
    let stage = &args.stage;
    let handler = name.to_string();

    Ok(quote! {
        #func

        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #name {}

        impl #krate::StageHandler for #name {
            const DEF: #krate::StageDef = {
                fn needs(needs: &mut #krate::Needs) {
                    #(#needs)*
                }
                fn run(cx: &mut #krate::Context) -> ::core::result::Result<#krate::Outcome, #krate::AgentError> {
                    #(#extracts)*
                    #convert
                }
                #krate::StageDef {
                    stage: #stage,
                    handler: #handler,
                    needs,
                    label_row_options: #krate::LabelRowOptions {
                        #(#bools)*
                        branch_name: #branch_name,
                        include_object_feature_hashes: #object_hashes,
                        include_classification_feature_hashes: #class_hashes,
                        ..#krate::LabelRowOptions::DEFAULT
                    },
                    pathways: &[#(#pathways),*],
                    run,
                }
            };
        }
    })
}
